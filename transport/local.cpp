#include "transport/local.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <boost/filesystem/operations.hpp>
#include <cerrno>
#include <cstring>

#include "transport/local_posix.hpp"
#include "transport/path.hpp"

namespace exmsync::transport {
namespace {

using posix::Fd;
using posix::throw_errno;
using posix::throw_error;
using posix::throw_not_found;
using posix::Where;

// Every folder on the way is opened like this: never through a symlink.
constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

// The folder that holds a path's last component, and that component.
struct Located {
    Fd parent;
    std::string name;
};

struct DirCloser {
    void operator()(DIR* dir) const { ::closedir(dir); }
};

class LocalTransport final : public Transport {
public:
    LocalTransport(const boost::filesystem::path& root, const std::string& name)
        : root_path_(boost::filesystem::absolute(root)), root_(name.empty() ? root_path_.string() : name) {
        root_fd_ = Fd(::open(root_path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (root_fd_.get() < 0) {
            throw Error("target " + root_ + " does not exist or is not a folder; check the path or mount (" +
                        std::strerror(errno) + ")");
        }
    }

    std::string describe() const override { return root_; }
    std::optional<boost::filesystem::path> local_path() const override { return root_path_; }

    std::optional<Stat> stat(const std::string& path) override {
        const auto parts = split_path(root_, path);
        struct stat st {};
        if (parts.empty()) {
            if (::fstat(root_fd_.get(), &st) != 0) throw_errno({root_, "stat", path}, errno);
            return posix::to_stat(st);
        }
        std::optional<Located> at;
        try {
            at.emplace(locate(parts, "stat", path));
        } catch (const NotFound&) {
            return std::nullopt;
        }
        if (::fstatat(at->parent.get(), at->name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
            return posix::to_stat(st);
        }
        if (errno == ENOENT) return std::nullopt;
        throw_errno({root_, "stat", path}, errno);
    }

    std::vector<DirEntry> list(const std::string& dir) override {
        const auto parts = split_path(root_, dir);
        Fd folder = open_dirs(parts, parts.size(), "list", dir);
        std::unique_ptr<DIR, DirCloser> stream(::fdopendir(folder.get()));
        if (!stream) throw_errno({root_, "list", dir}, errno);
        folder.release();  // the stream owns it now
        // The root's descriptor is a dup, which shares its read position
        // with every earlier listing of the root: start from the top.
        ::rewinddir(stream.get());
        std::vector<DirEntry> entries = read_entries(stream.get(), dir);
        std::sort(entries.begin(), entries.end(),
                  [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
        return entries;
    }

    std::string read_link(const std::string& path) override {
        const Where where{root_, "read the link", path};
        Located at = locate(split_path(root_, path), "read the link", path);
        std::string target(256, '\0');
        while (true) {
            const ssize_t n = ::readlinkat(at.parent.get(), at.name.c_str(), target.data(), target.size());
            if (n < 0 && errno == EINVAL) throw_error(where, "it is not a symlink");
            if (n < 0) throw_errno(where, errno);
            if (static_cast<std::size_t>(n) < target.size()) {
                target.resize(static_cast<std::size_t>(n));
                return target;
            }
            target.resize(target.size() * 2);
        }
    }

    std::unique_ptr<Reader> open_read(const std::string& path) override {
        const Where where{root_, "read", path};
        Located at = locate(split_path(root_, path), "read", path);
        // Look before opening, so a FIFO or device is never opened at all.
        struct stat before {};
        if (::fstatat(at.parent.get(), at.name.c_str(), &before, AT_SYMLINK_NOFOLLOW) != 0) {
            throw_errno(where, errno);
        }
        require_regular(where, before);
        Fd fd(::openat(at.parent.get(), at.name.c_str(),
                       O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
        if (fd.get() < 0) throw_errno(where, errno);
        struct stat after {};
        if (::fstat(fd.get(), &after) != 0) throw_errno(where, errno);
        require_regular(where, after);
        if (after.st_ino != before.st_ino || after.st_dev != before.st_dev) {
            throw_error(where, "it was replaced while being opened; run again");
        }
        ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
        return posix::make_fd_reader(std::move(fd), root_, path);
    }

    std::unique_ptr<Writer> create(const std::string& path) override {
        Located at = locate(split_path(root_, path), "create", path);
        // O_EXCL fails on anything there, a dangling symlink included.
        Fd fd(::openat(at.parent.get(), at.name.c_str(),
                       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0666));
        if (fd.get() < 0) throw_errno({root_, "create", path}, errno);
        return posix::make_fd_writer(std::move(fd), root_, path);
    }

    void rename(const std::string& from, const std::string& to) override {
        Located source = locate(split_path(root_, from), "rename", from);
        Located target = locate(split_path(root_, to), "rename to", to);
        const int error_number = posix::rename_noreplace(source.parent.get(), source.name.c_str(),
                                                         target.parent.get(), target.name.c_str());
        if (error_number != 0) throw_errno({root_, "rename " + quote_path(from) + " to", to}, error_number);
    }

    void remove(const std::string& path) override {
        const Where where{root_, "remove", path};
        Located at = locate(split_path(root_, path), "remove", path);
        struct stat st {};
        if (::fstatat(at.parent.get(), at.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
            throw_errno(where, errno);
        }
        const int flags = S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0;
        if (::unlinkat(at.parent.get(), at.name.c_str(), flags) != 0) {
            // POSIX lets rmdir say EEXIST for a non-empty folder; never report
            // that as AlreadyExists.
            throw_errno(where, errno == EEXIST ? ENOTEMPTY : errno);
        }
    }

    void mkdir(const std::string& path) override {
        Located at = locate(split_path(root_, path), "create folder", path);
        if (::mkdirat(at.parent.get(), at.name.c_str(), 0777) != 0) {
            throw_errno({root_, "create folder", path}, errno);
        }
    }

    void set_mtime(const std::string& path, std::int64_t mtime_ns) override {
        const auto parts = split_path(root_, path);
        const struct timespec times[2] = {{0, UTIME_OMIT}, posix::to_timespec(mtime_ns)};
        if (parts.empty()) {
            if (::futimens(root_fd_.get(), times) != 0) throw_errno({root_, "set the time of", path}, errno);
            return;
        }
        Located at = locate(parts, "set the time of", path);
        if (::utimensat(at.parent.get(), at.name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
            throw_errno({root_, "set the time of", path}, errno);
        }
    }

    void flush_dir(const std::string& dir) override {
        const auto parts = split_path(root_, dir);
        Fd folder = open_dirs(parts, parts.size(), "flush", dir);
        // EINVAL / ENOTSUP: this file system cannot fsync a folder; nothing to do.
        if (::fsync(folder.get()) != 0 && errno != EINVAL && errno != ENOTSUP) {
            throw_errno({root_, "flush", dir}, errno);
        }
    }

    void flush_all() override {
#ifdef __linux__
        if (::syncfs(root_fd_.get()) != 0) throw_errno({root_, "flush", ""}, errno);
#else
        ::sync();
#endif
    }

    Capabilities capabilities() const override { return {}; }  // the defaults describe a local disk

    std::string removal_problem(const std::string& path) override {
        const Where where{root_, "check", path};
        Located at = locate(split_path(root_, path), "check", path);
        struct stat st {};
        if (::fstatat(at.parent.get(), at.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) throw_errno(where, errno);
        if (auto why = posix::folder_problem(at.parent.get()); !why.empty()) return "its folder: " + why;
        // A symlink cannot carry the flags, and opening it would follow it.
        if (S_ISLNK(st.st_mode)) return {};
        int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0);
        Fd fd(::openat(at.parent.get(), at.name.c_str(), flags));
        if (fd.get() < 0) return {};  // unreadable here, but rename needs only the folder
        return posix::flag_problem(fd.get());
    }

    std::string creation_problem(const std::string& dir) override {
        const auto parts = split_path(root_, dir);
        Fd folder = open_dirs(parts, parts.size(), "check", dir);
        return posix::folder_problem(folder.get());
    }

    std::optional<Space> space() override {
        struct statvfs vfs {};
        if (::fstatvfs(root_fd_.get(), &vfs) != 0) throw_errno({root_, "measure the free space of", ""}, errno);
        Space out;
        out.free_bytes = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
        // A file system without an inode table (f_files 0) never runs out of them.
        out.free_inodes = vfs.f_files == 0 ? UINT64_MAX : static_cast<std::uint64_t>(vfs.f_favail);
        return out;
    }

private:
    // Opens parts[0..count) below the root as folders. Where the kernel can
    // (Linux openat2), one call resolves the whole path and refuses any
    // symlink on it and any way out of the root; a failure, or an older
    // kernel, takes the walk below, one component at a time, which also
    // says precisely what is wrong.
    Fd open_dirs(const std::vector<std::string>& parts, std::size_t count, const std::string& verb,
                 const std::string& path) const {
        if (count > 0) {
            std::string prefix;
            for (std::size_t i = 0; i < count; ++i) prefix += (i ? "/" : "") + parts[i];
            Fd fast(posix::open_beneath(root_fd_.get(), prefix.c_str(), kDirFlags));
            if (fast.get() >= 0) return fast;
        }
        Fd dir(::fcntl(root_fd_.get(), F_DUPFD_CLOEXEC, 0));
        if (dir.get() < 0) throw_errno({root_, verb, path}, errno);
        for (std::size_t i = 0; i < count; ++i) {
            Fd next(::openat(dir.get(), parts[i].c_str(), kDirFlags));
            if (next.get() < 0) fail_component(dir.get(), parts, i, {root_, verb, path});
            dir = std::move(next);
        }
        return dir;
    }

    // Says why component `i` could not be opened as a folder.
    [[noreturn]] static void fail_component(int dir, const std::vector<std::string>& parts, std::size_t i,
                                            const Where& where) {
        const int error_number = errno;
        std::string prefix;
        for (std::size_t k = 0; k <= i; ++k) prefix += (k ? "/" : "") + parts[k];
        struct stat st {};
        const bool exists = ::fstatat(dir, parts[i].c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
        if (exists && S_ISLNK(st.st_mode)) throw_errno(where, ELOOP, quote_path(prefix));
        if (exists && !S_ISDIR(st.st_mode)) {
            // Below a file nothing can exist (NotFound); the folder asked for
            // being a file is a plain failure.
            if (i + 1 == parts.size()) throw_error(where, "it is not a folder");
            throw_not_found(where, quote_path(prefix) + " is not a folder");
        }
        throw_errno(where, error_number, "folder " + quote_path(prefix));
    }

    Located locate(const std::vector<std::string>& parts, const std::string& verb, const std::string& path) const {
        if (parts.empty()) throw_error({root_, verb, path}, "not the root itself; name something inside it");
        return {open_dirs(parts, parts.size() - 1, verb, path), parts.back()};
    }

    static void require_regular(const Where& where, const struct stat& st) {
        if (S_ISREG(st.st_mode)) return;
        if (S_ISLNK(st.st_mode)) throw_errno(where, ELOOP);
        throw_error(where, S_ISDIR(st.st_mode) ? "it is a folder, not a file" : "it is not a regular file");
    }

    std::vector<DirEntry> read_entries(DIR* stream, const std::string& dir) const {
        std::vector<DirEntry> entries;
        while (true) {
            errno = 0;
            const dirent* entry = ::readdir(stream);
            if (!entry) break;
            const std::string name = entry->d_name;
            if (name == "." || name == "..") continue;
            struct stat st {};
            if (::fstatat(::dirfd(stream), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
                entries.push_back({name, posix::to_stat(st)});
            } else if (errno != ENOENT) {  // ENOENT: removed since readdir
                throw_errno({root_, "list", dir}, errno, quote_path(name));
            }
        }
        if (errno != 0) throw_errno({root_, "list", dir}, errno);
        return entries;
    }

    boost::filesystem::path root_path_;
    std::string root_;
    Fd root_fd_;
};

}  // namespace

std::unique_ptr<Transport> make_local_transport(const boost::filesystem::path& root, const std::string& name) {
    // absolute("") is the current folder: never sync there by accident.
    if (root.empty()) throw Error("no target folder given; pass the path of the site root");
    return std::make_unique<LocalTransport>(root, name);
}

}  // namespace exmsync::transport
