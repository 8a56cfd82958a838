#include "transport/ssh.hpp"

// sftp_open takes POSIX's O_ flags: they are libssh's API, as the
// struct timeval of sftp_utimes is (this backend is not built on Windows).
#include <fcntl.h>
#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include <algorithm>
#include <set>
#include <vector>

#include "transport/path.hpp"
#include "transport/sftp_lister.hpp"

namespace exmsync::transport {
namespace {

// Folders known not to be symlinks, remembered up to this many (then forgotten
// and checked again): bounded whatever the tree's size.
constexpr std::size_t kVerifiedFolders = 4096;

struct AttrFree {
    void operator()(sftp_attributes a) const { sftp_attributes_free(a); }
};
using Attributes = std::unique_ptr<sftp_attributes_struct, AttrFree>;

Stat to_stat(const sftp_attributes_struct& a) {
    Stat out;
    switch (a.type) {
        case SSH_FILEXFER_TYPE_REGULAR: out.kind = Kind::File; break;
        case SSH_FILEXFER_TYPE_DIRECTORY: out.kind = Kind::Directory; break;
        case SSH_FILEXFER_TYPE_SYMLINK: out.kind = Kind::Symlink; break;
        default: out.kind = Kind::Other; break;
    }
    out.size = a.size;
    out.mtime_ns = static_cast<std::int64_t>(a.mtime) * 1'000'000'000;
    return out;
}

class SftpTransport;

class SftpReader final : public Reader {
public:
    SftpReader(SftpTransport& owner, sftp_file file, std::string path)
        : owner_(owner), file_(file), path_(std::move(path)) {}
    ~SftpReader() override { sftp_close(file_); }
    std::size_t read(char* buffer, std::size_t size) override;

private:
    SftpTransport& owner_;
    sftp_file file_;
    std::string path_;
};

class SftpWriter final : public Writer {
public:
    SftpWriter(SftpTransport& owner, sftp_file file, std::string path)
        : owner_(owner), file_(file), path_(std::move(path)) {}
    ~SftpWriter() override {
        if (file_) sftp_close(file_);
    }
    void write(const char* data, std::size_t size) override;
    void commit(Flush flush) override;
    void set_mtime_on_commit(std::int64_t mtime_ns) override { mtime_ns_ = mtime_ns; }

private:
    SftpTransport& owner_;
    sftp_file file_;
    std::string path_;
    std::optional<std::int64_t> mtime_ns_;
};

class SftpTransport final : public Transport {
public:
    explicit SftpTransport(std::shared_ptr<SshSession> session) : session_(std::move(session)) {
        ssh_session s = static_cast<ssh_session>(session_->handle());
        sftp_ = sftp_new(s);
        if (!sftp_ || sftp_init(sftp_) != SSH_OK)
            throw Error("target " + describe() + ": the server offers no SFTP (" + ssh_get_error(s) +
                        "); enable the sftp subsystem in its sshd_config");
        root_ = session_->url().path;
        Attributes a(sftp_lstat(sftp_, root_.c_str()));
        if (!a) {
            int code = sftp_get_error(sftp_);
            throw Error("target " + describe() + " " +
                        (code == SSH_FX_NO_SUCH_FILE ? "does not exist" : "cannot be read (" + why() + ")") +
                        "; check the path on the server");
        }
        // The root itself may be a link the operator chose; what is in it may not.
        if (a->type == SSH_FILEXFER_TYPE_SYMLINK) {
            Attributes followed(sftp_stat(sftp_, root_.c_str()));
            if (!followed || followed->type != SSH_FILEXFER_TYPE_DIRECTORY)
                throw Error("target " + describe() + " is not a folder; check the path on the server");
        } else if (a->type != SSH_FILEXFER_TYPE_DIRECTORY) {
            throw Error("target " + describe() + " is not a folder; check the path on the server");
        }
        windows_ = session_->url().windows_path();
        fsync_ = sftp_extension_supported(sftp_, "fsync@openssh.com", "1") == 1;
    }

    ~SftpTransport() override {
        if (sftp_) sftp_free(sftp_);
    }

    std::string describe() const override { return session_->url().text(); }

    std::optional<Stat> stat(const std::string& path) override {
        const auto parts = split_path(describe(), path);
        if (parts.empty()) return stat_of(root_).value();
        if (!folders_ok(parts, parts.size() - 1, "stat", path, true)) return std::nullopt;
        return stat_of(full(path));
    }

    std::vector<DirEntry> list(const std::string& dir) override {
        const auto parts = split_path(describe(), dir);
        folders_ok(parts, parts.size(), "list", dir, false);
        std::vector<DirEntry> out;
        if (lister_ && lister_->has(full(dir))) {
            auto listing = lister_->take(full(dir));
            if (listing.status != 0) fail("list", dir, listing.status, listing.message);
            out = std::move(listing.entries);
        } else {
            sftp_dir handle = sftp_opendir(sftp_, full(dir).c_str());
            if (!handle) fail("list", dir);
            while (sftp_attributes a = sftp_readdir(sftp_, handle)) {
                Attributes owned(a);
                std::string name = a->name ? a->name : "";
                if (name == "." || name == ".." || name.empty()) continue;
                out.push_back({name, to_stat(*a)});
            }
            bool complete = sftp_dir_eof(handle);
            sftp_closedir(handle);
            if (!complete) fail("list", dir);
        }
        std::sort(out.begin(), out.end(), [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
        // The listing's attributes are lstat's: a folder in it is a real
        // folder (a symlink shows as one), so a walk that lists it next does
        // not pay a round trip to check it again.
        for (const auto& e : out)
            if (e.stat.kind == Kind::Directory) remember_verified(dir.empty() ? e.name : dir + "/" + e.name);
        return out;
    }

    // The listings are fetched ahead on a channel of their own, many at once
    // (sftp_lister.hpp). A server that refuses a second SFTP channel is
    // listed the slow way, one folder after another.
    void list_ahead(const std::vector<std::string>& dirs) override {
        if (lister_refused_) return;
        if (!lister_) {
            try {
                lister_ = std::make_unique<SftpLister>(*session_, session_->timeout_ms());
            } catch (const Error&) {
                lister_refused_ = true;
                return;
            }
        }
        std::vector<std::string> folders;
        for (const auto& dir : dirs) folders.push_back(full(dir));
        lister_->want(folders);
    }

    std::string read_link(const std::string& path) override {
        located(path, "read the link");
        char* target = sftp_readlink(sftp_, full(path).c_str());
        if (!target) fail("read the link", path);
        std::string out = target;
        ssh_string_free_char(target);
        return out;
    }

    std::unique_ptr<Reader> open_read(const std::string& path) override {
        located(path, "read");
        auto st = stat_of(full(path));
        if (!st) throw NotFound(where("read", path) + "it does not exist");
        if (st->kind != Kind::File)
            throw Error(where("read", path) + (st->kind == Kind::Symlink ? "it is a symlink, and exmsync never "
                                                                            "goes through a link on a target"
                                                                          : "it is not a regular file"));
        sftp_file file = sftp_open(sftp_, full(path).c_str(), O_RDONLY, 0);
        if (!file) fail("read", path);
        return std::make_unique<SftpReader>(*this, file, path);
    }

    std::unique_ptr<Writer> create(const std::string& path) override {
        located(path, "create");
        changed();
        sftp_file file = sftp_open(sftp_, full(path).c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (!file) {
            if (stat_of(full(path))) throw AlreadyExists(where("create", path) + "something is already there");
            fail("create", path);
        }
        return std::make_unique<SftpWriter>(*this, file, path);
    }

    void rename(const std::string& from, const std::string& to) override {
        located(from, "rename");
        located(to, "rename to");
        changed();
        if (!stat_of(full(from))) throw NotFound(where("rename", from) + "it does not exist");
        // OpenSSH renames a file by link + unlink, which never replaces, and a
        // folder after checking the name is free: look first, to say so.
        if (stat_of(full(to))) throw AlreadyExists(where("rename " + quote_path(from) + " to", to) + "it exists");
        if (sftp_rename(sftp_, full(from).c_str(), full(to).c_str()) != SSH_OK) {
            if (stat_of(full(to))) throw AlreadyExists(where("rename " + quote_path(from) + " to", to) + "it exists");
            fail("rename " + quote_path(from) + " to", to);
        }
        forget(from);
    }

    void remove(const std::string& path) override {
        located(path, "remove");
        changed();
        auto st = stat_of(full(path));
        if (!st) throw NotFound(where("remove", path) + "it does not exist");
        int rc = st->kind == Kind::Directory ? sftp_rmdir(sftp_, full(path).c_str())
                                             : sftp_unlink(sftp_, full(path).c_str());
        if (rc != SSH_OK) fail("remove", path);
        forget(path);
    }

    void mkdir(const std::string& path) override {
        located(path, "create folder");
        changed();
        if (sftp_mkdir(sftp_, full(path).c_str(), 0755) != SSH_OK) {
            if (stat_of(full(path))) throw AlreadyExists(where("create folder", path) + "something is already there");
            fail("create folder", path);
        }
    }

    void set_mtime(const std::string& path, std::int64_t mtime_ns) override {
        located(path, "set the time of");
        set_mtime_of(path, mtime_ns);
    }

    // OpenSSH's sftp-server opens a folder for reading like a file, and its
    // fsync@openssh.com then flushes the folder's entries; elsewhere a
    // folder flush is a flush of everything.
    void flush_dir(const std::string& dir) override {
        if (!dir.empty()) located(dir, "flush");  // "" is the root itself
        if (!fsync_ || windows_) return flush_all();
        sftp_file folder = sftp_open(sftp_, full(dir).c_str(), O_RDONLY, 0);
        if (!folder) return flush_all();
        int rc = sftp_fsync(folder);
        sftp_close(folder);
        if (rc != SSH_OK) fail("flush", dir);
    }

    bool can_fsync() const { return fsync_; }

    void flush_all() override {
        if (windows_) return;  // durable_flush is false: the protocol knows
        // The file system of the target only (coreutils' sync -f: syncfs).
        auto channel = session_->exec(remote_command({"sync", "-f", "--", root_}, false));
        char buffer[256];
        while (true) {
            auto n = channel->read(buffer, sizeof buffer, 1000);
            if (n && *n == 0) break;
        }
        if (channel->exit_status() != 0)
            throw Error("target " + describe() + ": cannot flush the server's disks ('sync' failed: " +
                        channel->errors() + ")");
    }

    Capabilities capabilities() const override {
        Capabilities c;
        c.no_replace_rename = true;
        c.rename_may_leave_both = true;
        c.file_identity = false;
        c.mtime_resolution_ns = 1'000'000'000;
        c.folder_flush = fsync_ && !windows_;
        c.durable_flush = !windows_;
        return c;
    }

    std::string removal_problem(const std::string& path) override {
        located(path, "check");
        if (!stat_of(full(path))) throw NotFound(where("check", path) + "it does not exist");
        return {};  // SFTP cannot tell; a refusal is undone by the commit
    }

    std::string creation_problem(const std::string& dir) override {
        const auto parts = split_path(describe(), dir);
        folders_ok(parts, parts.size(), "check", dir, false);
        return {};
    }

    std::optional<Space> space() override {
        if (!sftp_extension_supported(sftp_, "statvfs@openssh.com", "2")) return std::nullopt;
        sftp_statvfs_t v = sftp_statvfs(sftp_, root_.c_str());
        if (!v) return std::nullopt;
        Space out{v->f_bavail * v->f_frsize, v->f_files == 0 ? UINT64_MAX : v->f_favail};
        sftp_statvfs_free(v);
        return out;
    }

    // For the Reader and Writer.
    [[noreturn]] void fail(const std::string& verb, const std::string& path) const {
        fail(verb, path, sftp_get_error(sftp_), ssh_get_error(static_cast<ssh_session>(session_->handle())));
    }

    // The same for a status the server sent with its text.
    [[noreturn]] void fail(const std::string& verb, const std::string& path, std::uint32_t code,
                           const std::string& server_text) const {
        std::string message = where(verb, path) + why(code, server_text);
        if (code == SSH_FX_NO_SUCH_FILE || code == SSH_FX_NO_SUCH_PATH) throw NotFound(message);
        if (code == SSH_FX_FILE_ALREADY_EXISTS) throw AlreadyExists(message);
        throw Error(message);
    }

    // Whatever was listed ahead may be out of date now.
    void changed() {
        if (lister_) lister_->forget();
    }

    void set_mtime_of(const std::string& path, std::int64_t mtime_ns) {
        changed();
        struct timeval times[2];
        times[0].tv_sec = times[1].tv_sec = static_cast<time_t>(mtime_ns / 1'000'000'000);
        times[0].tv_usec = times[1].tv_usec = static_cast<suseconds_t>((mtime_ns % 1'000'000'000) / 1000);
        if (sftp_utimes(sftp_, full(path).c_str(), times) != SSH_OK) fail("set the time of", path);
    }

private:
    std::string full(const std::string& path) const {
        if (path.empty()) return root_;
        return root_ == "/" ? "/" + path : root_ + "/" + path;
    }

    std::string where(const std::string& verb, const std::string& path) const {
        return "target " + describe() + ": cannot " + verb + " " + quote_path(path) + ": ";
    }

    std::string why() const {
        return why(sftp_get_error(sftp_), ssh_get_error(static_cast<ssh_session>(session_->handle())));
    }

    std::string why(std::uint32_t code, const std::string& text) const {
        switch (code) {
            case SSH_FX_NO_SUCH_FILE:
            case SSH_FX_NO_SUCH_PATH: return "no such file or folder";
            case SSH_FX_PERMISSION_DENIED:
                return "permission denied; check the permissions of the account exmsync logs in as";
            case SSH_FX_FILE_ALREADY_EXISTS: return "something is already there";
            case SSH_FX_WRITE_PROTECT: return "the share is write-protected";
            case SSH_FX_NO_CONNECTION:
            case SSH_FX_CONNECTION_LOST: return "the connection was lost; run again";
            case SSH_FX_OP_UNSUPPORTED: return "the server does not support this";
            default:
                return "the server refused it (" + (text.empty() ? "SFTP failure" : text) +
                       "; a folder not empty, a full disk or missing permissions)";
        }
    }

    std::optional<Stat> stat_of(const std::string& full_path) {
        Attributes a(sftp_lstat(sftp_, full_path.c_str()));
        if (a) return to_stat(*a);
        int code = sftp_get_error(sftp_);
        if (code == SSH_FX_NO_SUCH_FILE || code == SSH_FX_NO_SUCH_PATH) return std::nullopt;
        throw Error("target " + describe() + ": cannot stat " + full_path + ": " + why());
    }

    // Checks that parts[0..count) are folders and none is a symlink. With
    // `absent_ok`, a missing one returns false; otherwise it is NotFound.
    bool folders_ok(const std::vector<std::string>& parts, std::size_t count, const std::string& verb,
                    const std::string& path, bool absent_ok) {
        std::string prefix;
        for (std::size_t i = 0; i < count; ++i) {
            prefix += (i ? "/" : "") + parts[i];
            if (verified_.count(prefix)) continue;
            auto st = stat_of(full(prefix));
            if (!st) {
                if (absent_ok) return false;
                throw NotFound(where(verb, path) + "folder " + quote_path(prefix) + " does not exist");
            }
            if (st->kind == Kind::Symlink)
                throw Error(where(verb, path) + quote_path(prefix) + " is a symlink, and exmsync never goes "
                            "through a link on a target; replace it with a real folder");
            if (st->kind != Kind::Directory) {
                if (absent_ok) return false;
                throw NotFound(where(verb, path) + quote_path(prefix) + " is not a folder");
            }
            remember_verified(prefix);
        }
        return true;
    }

    void remember_verified(const std::string& folder) {
        if (verified_.size() >= kVerifiedFolders) verified_.clear();
        verified_.insert(folder);
    }

    // The folder of a path checked; the path itself must not be the root.
    void located(const std::string& path, const std::string& verb) {
        const auto parts = split_path(describe(), path);
        if (parts.empty()) throw Error(where(verb, path) + "not the root itself; name something inside it");
        folders_ok(parts, parts.size() - 1, verb, path, false);
    }

    // A folder removed or moved is no longer known, nor anything in it.
    void forget(const std::string& path) {
        for (auto it = verified_.lower_bound(path); it != verified_.end() && it->rfind(path, 0) == 0;)
            it = verified_.erase(it);
    }

    std::shared_ptr<SshSession> session_;
    sftp_session sftp_ = nullptr;
    std::string root_;
    bool windows_ = false;
    bool fsync_ = false;  // the server has fsync@openssh.com
    std::set<std::string> verified_;
    std::unique_ptr<SftpLister> lister_;
    bool lister_refused_ = false;

    friend class SftpReader;
    friend class SftpWriter;
};

std::size_t SftpReader::read(char* buffer, std::size_t size) {
    ssize_t n = sftp_read(file_, buffer, size);
    if (n < 0) owner_.fail("read", path_);
    return static_cast<std::size_t>(n);
}

void SftpWriter::write(const char* data, std::size_t size) {
    if (!file_) throw Error("internal: write after commit of " + path_);
    while (size > 0) {
        // One request per 128 KiB: sftp-server takes up to 256 KiB per message,
        // and each request waits for its reply.
        ssize_t n = sftp_write(file_, data, std::min<std::size_t>(size, 128 * 1024));
        if (n <= 0) owner_.fail("write", path_);
        data += n;
        size -= static_cast<std::size_t>(n);
    }
}

// A file is flushed by fsync@openssh.com where the server has it; SFTP v3
// itself cannot flush one file, and then Flush::Now flushes everything.
void SftpWriter::commit(Flush flush) {
    if (!file_) throw Error("internal: " + path_ + " committed twice");
    owner_.changed();
    sftp_file file = file_;
    file_ = nullptr;
    bool flushed = false;
    if (flush == Flush::Now && owner_.can_fsync()) {
        if (sftp_fsync(file) != SSH_OK) {
            sftp_close(file);
            owner_.fail("flush", path_);
        }
        flushed = true;
    }
    if (sftp_close(file) != SSH_OK) owner_.fail("close", path_);
    if (mtime_ns_) owner_.set_mtime_of(path_, *mtime_ns_);
    if (flush == Flush::Now && !flushed) owner_.flush_all();
}

}  // namespace

std::unique_ptr<Transport> open_sftp(std::shared_ptr<SshSession> session) {
    return std::make_unique<SftpTransport>(std::move(session));
}

std::unique_ptr<Transport> open_sftp(const std::string& url, const SshOptions& options) {
    return open_sftp(std::make_shared<SshSession>(SshUrl::parse(url), options));
}

}  // namespace exmsync::transport
