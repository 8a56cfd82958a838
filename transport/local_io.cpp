#include "transport/local_io.hpp"

#include <optional>

#include "transport/path.hpp"

namespace exmsync::transport::local_io {
namespace {

using platform::Errc;
using platform::Handle;

// What an operator can do about a failure; nullptr when the cause says it all.
const char* advice(Errc code) {
    switch (code) {
    case Errc::access: return "check the permissions of the account running exmsync";
    case Errc::no_space: return "free space on the target";
    case Errc::read_only: return "the target is mounted read-only; remount it writable";
    case Errc::io: return "check the disk or the share's connection";
    case Errc::not_empty: return "remove what is inside first";
    case Errc::cross_volume: return "both paths must be on the same volume";
    case Errc::name_too_long: return "shorten the name";
    case Errc::too_many_open: return "too many open files; raise the limit (ulimit -n)";
    case Errc::in_use: return "another program holds it open; close it or wait, then run again";
    case Errc::busy: return "the system is using it (a mount point?); unmount it, then run again";
    default: return nullptr;
    }
}

std::string prefix(const Where& where) {
    return "target " + where.target + ": cannot " + where.verb + " " + quote_path(where.path) + ": ";
}

}  // namespace

void throw_error(const Where& where, const std::string& why) { throw Error(prefix(where) + why); }

void throw_not_found(const Where& where, const std::string& why) { throw NotFound(prefix(where) + why); }

void throw_failure(const Where& where, const platform::Error& error, const std::string& detail) {
    std::string message = prefix(where);
    if (error.code == Errc::is_link) {
        throw Error(message + (detail.empty() ? "it" : detail) +
                    " is a symlink, and exmsync never goes through a link on a target; "
                    "replace it with a real file or folder");
    }
    if (!detail.empty()) message += detail + ": ";
    message += error.text();
    if (const char* what_to_do = advice(error.code)) message += std::string("; ") + what_to_do;
    if (error.code == Errc::not_found) throw NotFound(message);
    if (error.code == Errc::exists) throw AlreadyExists(message);
    throw Error(message);
}

namespace {

Kind to_kind(platform::Kind kind) {
    switch (kind) {
    case platform::Kind::File: return Kind::File;
    case platform::Kind::Folder: return Kind::Directory;
    case platform::Kind::Link: return Kind::Symlink;
    case platform::Kind::Other: return Kind::Other;
    }
    return Kind::Other;
}

}  // namespace

Stat to_stat(const platform::Info& info) {
    Stat out;
    out.kind = to_kind(info.kind);
    out.size = info.size;
    out.mtime_ns = info.mtime_ns;
    out.device = info.device;
    out.inode = info.file_id;
    out.ctime_ns = info.ctime_ns;
    return out;
}

namespace {

class HandleReader final : public Reader {
public:
    HandleReader(Handle file, std::string target, std::string path)
        : file_(std::move(file)), target_(std::move(target)), path_(std::move(path)) {}

    std::size_t read(char* buffer, std::size_t size) override {
        std::size_t got = 0;
        if (auto error = platform::read(file_, buffer, size, got)) throw_failure({target_, "read", path_}, error);
        return got;
    }

private:
    Handle file_;
    std::string target_;
    std::string path_;
};

class HandleWriter final : public Writer {
public:
    HandleWriter(Handle file, std::string target, std::string path)
        : file_(std::move(file)), target_(std::move(target)), path_(std::move(path)) {}

    void write(const char* data, std::size_t size) override {
        if (!file_.valid()) throw_error({target_, "write", path_}, "the file is already committed");
        if (auto error = platform::write_all(file_, data, size)) throw_failure({target_, "write", path_}, error);
    }

    void set_mtime_on_commit(std::int64_t mtime_ns) override {
        if (!file_.valid()) throw_error({target_, "set the time of", path_}, "the file is already committed");
        mtime_ns_ = mtime_ns;
    }

    void commit(Flush flush) override {
        if (!file_.valid()) throw_error({target_, "commit", path_}, "the file is already committed");
        if (mtime_ns_) {
            if (auto error = platform::set_mtime(file_, *mtime_ns_)) {
                file_.close();
                throw_failure({target_, "set the time of", path_}, error);
            }
        }
        // Where the volume cannot be flushed later, a deferred flush is now.
        if (flush == Flush::Now || !platform::volume_flush()) {
            if (auto error = platform::flush_file(file_)) {
                file_.close();  // never flush again: see Writer::commit
                throw_failure({target_, "flush", path_}, error);
            }
        }
        if (auto error = file_.close()) throw_failure({target_, "close", path_}, error);
    }

private:
    Handle file_;
    std::string target_;
    std::string path_;
    std::optional<std::int64_t> mtime_ns_;
};

}  // namespace

std::unique_ptr<Reader> make_reader(Handle file, const std::string& target, const std::string& path) {
    return std::make_unique<HandleReader>(std::move(file), target, path);
}

std::unique_ptr<Writer> make_writer(Handle file, const std::string& target, const std::string& path) {
    return std::make_unique<HandleWriter>(std::move(file), target, path);
}

}  // namespace exmsync::transport::local_io
