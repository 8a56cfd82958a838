#include "transport/local.hpp"

#include <algorithm>
#include <boost/filesystem/operations.hpp>
#include <chrono>
#include <optional>
#include <thread>

#include "platform/files.hpp"
#include "transport/local_io.hpp"
#include "transport/path.hpp"

namespace exmsync::transport {
namespace {

using platform::Errc;
using platform::Handle;
using local_io::throw_error;
using local_io::throw_failure;
using local_io::throw_not_found;
using local_io::to_stat;
using local_io::Where;

// A file that IIS, an antivirus or a backup agent holds open for a moment
// (Windows refuses to rename or remove it: Errc::in_use) is tried again for
// up to 5 s, as over SMB, before the failure is reported by name.
template <class Operation>
platform::Error retried_while_in_use(Operation operation) {
    platform::Error error = operation();
    for (int waited_ms = 0; error.code == Errc::in_use && waited_ms < 5000; waited_ms += 100) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        error = operation();
    }
    return error;
}

// The folder that holds a path's last component, and that component.
struct Located {
    Handle parent;
    std::string name;
};

// A file still held open after the retries: the message names the program
// holding it where the system can tell (Restart Manager on Windows), as the
// pre-flight does for a file it finds held.
[[noreturn]] void throw_failure_naming_holders(const Where& where, const platform::Error& error, const Located& at) {
    if (error.code == Errc::in_use) {
        if (std::string problem = platform::entry_problem_at(at.parent, at.name); !problem.empty())
            throw_error(where, error.text() + "; " + problem);
    }
    throw_failure(where, error);
}

class LocalTransport final : public Transport {
public:
    LocalTransport(const boost::filesystem::path& root, const std::string& name)
        : root_path_(boost::filesystem::absolute(root)), root_(name.empty() ? root_path_.string() : name) {
        if (auto error = platform::open_folder(root_path_.string(), root_dir_)) {
            throw Error("target " + root_ + " does not exist or is not a folder; check the path or mount (" +
                        error.text() + ")");
        }
    }

    std::string describe() const override { return root_; }
    std::optional<boost::filesystem::path> local_path() const override { return root_path_; }

    std::optional<Stat> stat(const std::string& path) override {
        const auto parts = split_path(root_, path);
        platform::Info info;
        if (parts.empty()) {
            if (auto error = platform::stat_handle(root_dir_, info)) throw_failure({root_, "stat", path}, error);
            return to_stat(info);
        }
        std::optional<Located> at;
        try {
            at.emplace(locate(parts, "stat", path));
        } catch (const NotFound&) {
            return std::nullopt;
        }
        const auto error = platform::stat_at(at->parent, at->name, info);
        if (!error) return to_stat(info);
        if (error.code == Errc::not_found) return std::nullopt;
        throw_failure({root_, "stat", path}, error);
    }

    std::vector<DirEntry> list(const std::string& dir) override {
        const auto parts = split_path(root_, dir);
        Handle folder = open_folders(parts, parts.size(), "list", dir);
        std::vector<platform::FolderEntry> found;
        std::string failed;
        if (auto error = platform::list_folder(folder, found, failed)) {
            throw_failure({root_, "list", dir}, error, failed.empty() ? std::string() : quote_path(failed));
        }
        std::vector<DirEntry> entries;
        entries.reserve(found.size());
        for (auto& child : found) entries.push_back({std::move(child.name), to_stat(child.info)});
        std::sort(entries.begin(), entries.end(),
                  [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
        return entries;
    }

    std::string read_link(const std::string& path) override {
        Located at = locate(split_path(root_, path), "read the link", path);
        std::string target;
        if (auto error = platform::read_link_at(at.parent, at.name, target)) {
            throw_failure({root_, "read the link", path}, error);
        }
        return target;
    }

    std::unique_ptr<Reader> open_read(const std::string& path) override {
        Located at = locate(split_path(root_, path), "read", path);
        Handle file;
        platform::Info info;
        if (auto error = platform::open_file_at(at.parent, at.name, file, info)) {
            throw_failure({root_, "read", path}, error);
        }
        return local_io::make_reader(std::move(file), root_, path);
    }

    std::unique_ptr<Writer> create(const std::string& path) override {
        Located at = locate(split_path(root_, path), "create", path);
        Handle file;
        if (auto error = platform::create_file_at(at.parent, at.name, file)) {
            throw_failure({root_, "create", path}, error);
        }
        return local_io::make_writer(std::move(file), root_, path);
    }

    void rename(const std::string& from, const std::string& to) override {
        Located source = locate(split_path(root_, from), "rename", from);
        Located target = locate(split_path(root_, to), "rename to", to);
        if (auto error = retried_while_in_use(
                [&] { return platform::rename_at(source.parent, source.name, target.parent, target.name); })) {
            throw_failure_naming_holders({root_, "rename " + quote_path(from) + " to", to}, error, source);
        }
    }

    void remove(const std::string& path) override {
        Located at = locate(split_path(root_, path), "remove", path);
        if (auto error = retried_while_in_use([&] { return platform::remove_at(at.parent, at.name); })) {
            throw_failure_naming_holders({root_, "remove", path}, error, at);
        }
    }

    void mkdir(const std::string& path) override {
        Located at = locate(split_path(root_, path), "create folder", path);
        if (auto error = platform::make_folder_at(at.parent, at.name)) {
            throw_failure({root_, "create folder", path}, error);
        }
    }

    void set_mtime(const std::string& path, std::int64_t mtime_ns) override {
        const auto parts = split_path(root_, path);
        if (parts.empty()) {
            if (auto error = platform::set_mtime(root_dir_, mtime_ns)) {
                throw_failure({root_, "set the time of", path}, error);
            }
            return;
        }
        Located at = locate(parts, "set the time of", path);
        if (auto error = platform::set_mtime_at(at.parent, at.name, mtime_ns)) {
            throw_failure({root_, "set the time of", path}, error);
        }
    }

    void flush_dir(const std::string& dir) override {
        const auto parts = split_path(root_, dir);
        Handle folder = open_folders(parts, parts.size(), "flush", dir);
        if (auto error = platform::flush_folder(folder)) throw_failure({root_, "flush", dir}, error);
    }

    void flush_all() override {
        if (auto error = platform::flush_volume(root_dir_)) throw_failure({root_, "flush", ""}, error);
    }

    Capabilities capabilities() const override {
        Capabilities out;  // the defaults describe a local disk
        out.folder_flush = platform::folder_flush();
        out.mtime_resolution_ns = platform::mtime_resolution_ns();
        return out;
    }

    std::string removal_problem(const std::string& path) override {
        Located at = locate(split_path(root_, path), "check", path);
        platform::Info info;
        if (auto error = platform::stat_at(at.parent, at.name, info)) throw_failure({root_, "check", path}, error);
        if (auto why = platform::folder_problem(at.parent); !why.empty()) return "its folder: " + why;
        return platform::entry_problem_at(at.parent, at.name);
    }

    std::string creation_problem(const std::string& dir) override {
        const auto parts = split_path(root_, dir);
        Handle folder = open_folders(parts, parts.size(), "check", dir);
        return platform::folder_problem(folder);
    }

    std::optional<Space> space() override {
        platform::Space free;
        if (auto error = platform::free_space(root_dir_, free)) {
            throw_failure({root_, "measure the free space of", ""}, error);
        }
        return Space{free.free_bytes, free.free_inodes};
    }

private:
    // Opens parts[0..count) below the root as folders. Where the system can
    // (Linux openat2), one call resolves the whole path and refuses any link
    // on it and any way out of the root; a failure, or a system without it,
    // takes the walk below, one component at a time, which also says
    // precisely what is wrong.
    Handle open_folders(const std::vector<std::string>& parts, std::size_t count, const std::string& verb,
                        const std::string& path) const {
        const Where where{root_, verb, path};
        std::string prefix;
        for (std::size_t i = 0; i < count; ++i) prefix += (i ? "/" : "") + parts[i];
        Handle folder;
        if (count > 0 && !platform::open_folder_beneath(root_dir_, prefix, folder)) return folder;
        // The walk starts from the root by name: a fresh handle, so that
        // nothing (a listing's position) is shared with root_dir_.
        if (auto error = platform::open_folder_at(root_dir_, "", folder)) throw_failure(where, error);
        prefix.clear();
        for (std::size_t i = 0; i < count; ++i) {
            prefix += (i ? "/" : "") + parts[i];
            Handle next;
            const auto error = platform::open_folder_at(folder, parts[i], next);
            if (!error) {
                folder = std::move(next);
                continue;
            }
            if (error.code == Errc::is_link) throw_failure(where, error, quote_path(prefix));
            if (error.code == Errc::not_a_folder) {
                // Below a file nothing can exist (NotFound); the folder asked
                // for being a file is a plain failure.
                if (i + 1 == parts.size()) throw_error(where, "it is not a folder");
                throw_not_found(where, quote_path(prefix) + " is not a folder");
            }
            throw_failure(where, error, "folder " + quote_path(prefix));
        }
        return folder;
    }

    Located locate(const std::vector<std::string>& parts, const std::string& verb, const std::string& path) const {
        if (parts.empty()) throw_error({root_, verb, path}, "not the root itself; name something inside it");
        return {open_folders(parts, parts.size() - 1, verb, path), parts.back()};
    }

    boost::filesystem::path root_path_;
    std::string root_;
    Handle root_dir_;
};

}  // namespace

std::unique_ptr<Transport> make_local_transport(const boost::filesystem::path& root, const std::string& name) {
    // absolute("") is the current folder: never sync there by accident.
    if (root.empty()) throw Error("no target folder given; pass the path of the site root");
    return std::make_unique<LocalTransport>(root, name);
}

}  // namespace exmsync::transport
