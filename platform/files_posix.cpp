// The POSIX side of platform/files.hpp: descriptors and *at() calls, so every
// step below an open folder is resolved from that folder and never through
// a symlink.
#include <dirent.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/fs.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#endif

#include <cerrno>
#include <cstring>

#include "platform/files.hpp"

namespace exmsync::platform {
namespace {

// Every folder below a root is opened like this: never through a symlink.
constexpr int kFolderFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
// Regular files are opened non-blocking, so a FIFO swapped in after the
// check can never hang the open; blocking is restored once it is a file.
constexpr int kReadFlags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;

Errc classify(int error_number) {
    switch (error_number) {
    case 0: return Errc::ok;
    case ENOENT: return Errc::not_found;
    case EEXIST: return Errc::exists;
    case ENOTEMPTY: return Errc::not_empty;
    case ENOTDIR: return Errc::not_a_folder;
    case ELOOP: return Errc::is_link;
    case EACCES:
    case EPERM: return Errc::access;
    case EROFS: return Errc::read_only;
    case ENOSPC:
    case EDQUOT: return Errc::no_space;
    case EXDEV: return Errc::cross_volume;
    case ENAMETOOLONG: return Errc::name_too_long;
    case EMFILE:
    case ENFILE: return Errc::too_many_open;
    case ETXTBSY:
    case EBUSY: return Errc::busy;
    case EIO: return Errc::io;
    case ENOSYS:
    case ENOTSUP: return Errc::not_supported;
    default: return Errc::other;
    }
}

Error fail(int error_number) { return {classify(error_number), error_number}; }
Error last() { return fail(errno); }
Error ok() { return {}; }

int fd(const Handle& handle) { return static_cast<int>(handle.native_); }

Handle adopt(int descriptor) {
    Handle out;
    out.native_ = descriptor;
    return out;
}

std::int64_t to_ns(const struct timespec& t) { return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec; }

struct timespec to_timespec(std::int64_t ns) {
    // Floor division: -1 ns is 1969-12-31T23:59:59.999999999, tv_nsec >= 0.
    std::int64_t seconds = ns / 1'000'000'000;
    std::int64_t rest = ns % 1'000'000'000;
    if (rest < 0) {
        seconds -= 1;
        rest += 1'000'000'000;
    }
    struct timespec out {};
    out.tv_sec = static_cast<time_t>(seconds);
    out.tv_nsec = static_cast<long>(rest);
    return out;
}

Info to_info(const struct stat& st) {
    Info out;
    if (S_ISREG(st.st_mode)) out.kind = Kind::File;
    else if (S_ISDIR(st.st_mode)) out.kind = Kind::Folder;
    else if (S_ISLNK(st.st_mode)) out.kind = Kind::Link;
    out.size = static_cast<std::uint64_t>(st.st_size);
    out.mtime_ns = to_ns(st.st_mtim);
    out.ctime_ns = to_ns(st.st_ctim);
    out.device = static_cast<std::uint64_t>(st.st_dev);
    out.file_id = static_cast<std::uint64_t>(st.st_ino);
    return out;
}

// A regular file opened by `opener` after a look without following: a FIFO
// or device is never opened, and one swapped in between is caught by the
// identity check after the open.
template <class Open>
Error open_regular(const struct stat& before, Open opener, Handle& out, Info& info) {
    if (S_ISLNK(before.st_mode)) return fail(ELOOP);
    if (S_ISDIR(before.st_mode)) return {Errc::is_a_folder, EISDIR};
    if (!S_ISREG(before.st_mode)) return {Errc::not_a_file, EINVAL};
    Handle file = adopt(opener());
    if (!file.valid()) return last();
    struct stat after {};
    if (::fstat(fd(file), &after) != 0) return last();
    if (!S_ISREG(after.st_mode) || after.st_ino != before.st_ino || after.st_dev != before.st_dev) {
        return {Errc::replaced, EAGAIN};
    }
    ::fcntl(fd(file), F_SETFL, ::fcntl(fd(file), F_GETFL) & ~O_NONBLOCK);
    info = to_info(after);
    out = std::move(file);
    return ok();
}

std::string flag_words(int descriptor) {
#if defined(__linux__) && defined(FS_IOC_GETFLAGS)
    int flags = 0;
    if (::ioctl(descriptor, FS_IOC_GETFLAGS, &flags) != 0) return {};  // no such flags here
    if (flags & FS_IMMUTABLE_FL) return "it is immutable (chattr +i); clear the flag with chattr -i";
    if (flags & FS_APPEND_FL) return "it is append-only (chattr +a); clear the flag with chattr -a";
#else
    (void)descriptor;
#endif
    return {};
}

// readlinkat into a buffer that grows until the whole target fits.
Error read_link(int dir, const char* name, std::string& out) {
    std::string target(256, '\0');
    while (true) {
        const ssize_t n = ::readlinkat(dir, name, target.data(), target.size());
        if (n < 0) return errno == EINVAL ? Error{Errc::not_a_link, EINVAL} : last();
        if (static_cast<std::size_t>(n) < target.size()) {
            target.resize(static_cast<std::size_t>(n));
            out = std::move(target);
            return ok();
        }
        target.resize(target.size() * 2);
    }
}

}  // namespace

std::int64_t mtime_resolution_ns() { return 1; }

Error access_of(const std::string& path, Access& out) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return last();
    out.kind = S_ISREG(st.st_mode) ? Kind::File : S_ISDIR(st.st_mode) ? Kind::Folder : Kind::Other;
    out.mode = static_cast<unsigned>(st.st_mode & 07777);
    out.mine = st.st_uid == ::geteuid();
    return ok();
}

std::filesystem::path stream_path(const std::string& utf8) { return std::filesystem::path(utf8); }

std::FILE* create_c_file(const std::string& utf8, Error& error) {
    std::FILE* file = std::fopen(utf8.c_str(), "wbx");
    error = file ? Error{} : fail(errno);
    return file;
}

std::string system_text(long native) { return std::strerror(static_cast<int>(native)); }

Error Handle::close() {
    if (!valid()) return ok();
    const int descriptor = static_cast<int>(native_);
    native_ = kInvalid;
    // On Linux the descriptor is gone even when close fails, so never retry;
    // EINTR only means a signal arrived, not that data was lost.
    if (::close(descriptor) == 0 || errno == EINTR) return ok();
    return last();
}

// ---- by path ----

Error stat_path(const std::string& path, Info& out) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return last();
    out = to_info(st);
    return ok();
}

Error open_folder(const std::string& path, Handle& out) {
    Handle folder = adopt(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!folder.valid()) return last();
    folder.path_ = path;
    out = std::move(folder);
    return ok();
}

Error open_file(const std::string& path, Handle& out, Info& info) {
    // The scanner has just seen a regular file here: open straight away
    // (O_NOFOLLOW, O_NONBLOCK keep a swapped-in link or FIFO harmless) and
    // check what was opened, one system call fewer per file than a look first.
    Handle file = adopt(::open(path.c_str(), kReadFlags));
    if (!file.valid()) return last();
    struct stat st {};
    if (::fstat(fd(file), &st) != 0) return last();
    if (S_ISDIR(st.st_mode)) return {Errc::is_a_folder, EISDIR};
    if (!S_ISREG(st.st_mode)) return {Errc::not_a_file, EINVAL};
    ::fcntl(fd(file), F_SETFL, ::fcntl(fd(file), F_GETFL) & ~O_NONBLOCK);
    info = to_info(st);
    out = std::move(file);
    return ok();
}

Error read_link_path(const std::string& path, std::string& out) { return read_link(AT_FDCWD, path.c_str(), out); }

// ---- relative to an open folder ----

Error open_folder_at(const Handle& dir, const std::string& name, Handle& out) {
    Handle folder = adopt(::openat(fd(dir), name.empty() ? "." : name.c_str(), kFolderFlags));
    if (!folder.valid()) {
        const int error_number = errno;
        // Say what is there when it is not a folder: a symlink, or a file.
        struct stat st {};
        if (::fstatat(fd(dir), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
            if (S_ISLNK(st.st_mode)) return fail(ELOOP);
            if (!S_ISDIR(st.st_mode)) return fail(ENOTDIR);
        }
        return fail(error_number);
    }
    out = std::move(folder);
    return ok();
}

Error open_folder_beneath(const Handle& dir, const std::string& path, Handle& out) {
#if defined(__linux__) && defined(SYS_openat2)
    struct open_how how {};
    how.flags = static_cast<std::uint64_t>(kFolderFlags);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    Handle folder = adopt(static_cast<int>(::syscall(SYS_openat2, fd(dir), path.c_str(), &how, sizeof how)));
    if (!folder.valid()) return last();
    out = std::move(folder);
    return ok();
#else
    (void)dir;
    (void)path;
    (void)out;
    return fail(ENOSYS);
#endif
}

Error stat_at(const Handle& dir, const std::string& name, Info& out) {
    struct stat st {};
    const int rc = name.empty() ? ::fstat(fd(dir), &st) : ::fstatat(fd(dir), name.c_str(), &st, AT_SYMLINK_NOFOLLOW);
    if (rc != 0) return last();
    out = to_info(st);
    return ok();
}

Error stat_handle(const Handle& handle, Info& out) { return stat_at(handle, "", out); }

Error list_folder(const Handle& dir, std::vector<FolderEntry>& out, std::string& failed) {
    // getdents64 on the folder's own descriptor, into a buffer kept per
    // thread: a scan lists every folder, and fdopendir's duplicate
    // descriptor, fstat, rewind and 32 KiB allocation cost more syscalls than
    // the folder's own listing for the small folders of a template tree.
    if (::lseek(fd(dir), 0, SEEK_SET) < 0) return last();
    alignas(8) thread_local char buffer[32 * 1024];
    out.clear();
    while (true) {
        const ssize_t got = ::getdents64(fd(dir), buffer, sizeof buffer);
        if (got < 0) return last();
        if (got == 0) break;
        for (ssize_t at = 0; at < got;) {
            const auto* entry = reinterpret_cast<const dirent64*>(buffer + at);
            at += entry->d_reclen;
            const char* name = entry->d_name;
            if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
            // Each child is stat'ed relative to the open folder, which measured
            // about twice as fast as an lstat of every full path.
            struct stat st {};
            if (::fstatat(fd(dir), name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
                out.push_back({name, to_info(st)});
            } else if (errno != ENOENT) {  // ENOENT: removed since it was listed
                failed = name;
                return last();
            }
        }
    }
    return ok();
}

Error read_link_at(const Handle& dir, const std::string& name, std::string& out) {
    return read_link(fd(dir), name.c_str(), out);
}

Error open_file_at(const Handle& dir, const std::string& name, Handle& out, Info& info) {
    struct stat before {};
    if (::fstatat(fd(dir), name.c_str(), &before, AT_SYMLINK_NOFOLLOW) != 0) return last();
    return open_regular(before, [&] { return ::openat(fd(dir), name.c_str(), kReadFlags); }, out, info);
}

Error create_file_at(const Handle& dir, const std::string& name, Handle& out) {
    // O_EXCL fails on anything there, a dangling symlink included.
    Handle file = adopt(::openat(fd(dir), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC,
                                 0666));
    if (!file.valid()) return last();
    out = std::move(file);
    return ok();
}

Error make_folder_at(const Handle& dir, const std::string& name) {
    return ::mkdirat(fd(dir), name.c_str(), 0777) == 0 ? ok() : last();
}

Error remove_at(const Handle& dir, const std::string& name) {
    struct stat st {};
    if (::fstatat(fd(dir), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return last();
    if (::unlinkat(fd(dir), name.c_str(), S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) == 0) return ok();
    // POSIX lets rmdir say EEXIST for a non-empty folder; never report that
    // as something in the way.
    return fail(errno == EEXIST ? ENOTEMPTY : errno);
}

Error rename_at(const Handle& from_dir, const std::string& from, const Handle& to_dir, const std::string& to,
                bool force_fallback) {
#ifdef RENAME_NOREPLACE
    if (!force_fallback) {
        if (::renameat2(fd(from_dir), from.c_str(), fd(to_dir), to.c_str(), RENAME_NOREPLACE) == 0) return ok();
        // EINVAL: the file system lacks the flag (or a folder into itself,
        // which the renameat below reports again).
        if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) return last();
    }
#else
    (void)force_fallback;
#endif
    // Check, then rename. Not atomic against a concurrent writer (the target
    // lock keeps other exmsync runs out), but unlike link+unlink a crash never
    // leaves the file under both names, which journal recovery relies on.
    struct stat st {};
    if (::fstatat(fd(from_dir), from.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return last();
    if (::fstatat(fd(to_dir), to.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return fail(EEXIST);
    if (errno != ENOENT) return last();
    return ::renameat(fd(from_dir), from.c_str(), fd(to_dir), to.c_str()) == 0 ? ok() : last();
}

Error set_mtime_at(const Handle& dir, const std::string& name, std::int64_t mtime_ns) {
    const struct timespec times[2] = {{0, UTIME_OMIT}, to_timespec(mtime_ns)};
    return ::utimensat(fd(dir), name.c_str(), times, AT_SYMLINK_NOFOLLOW) == 0 ? ok() : last();
}

// ---- open files and folders ----

Error read(const Handle& file, char* buffer, std::size_t size, std::size_t& got) {
    while (true) {
        const ssize_t n = ::read(fd(file), buffer, size);
        if (n >= 0) {
            got = static_cast<std::size_t>(n);
            return ok();
        }
        if (errno != EINTR) return last();
    }
}

Error write_all(const Handle& file, const char* data, std::size_t size) {
    while (size > 0) {
        const ssize_t n = ::write(fd(file), data, size);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return last();
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return ok();
}

Error set_mtime(const Handle& handle, std::int64_t mtime_ns) {
    const struct timespec times[2] = {{0, UTIME_OMIT}, to_timespec(mtime_ns)};
    return ::futimens(fd(handle), times) == 0 ? ok() : last();
}

Error flush_file(const Handle& file) { return ::fsync(fd(file)) == 0 ? ok() : last(); }

Error flush_folder(const Handle& dir) {
    // EINVAL / ENOTSUP: this file system cannot fsync a folder; nothing to do.
    if (::fsync(fd(dir)) != 0 && errno != EINVAL && errno != ENOTSUP) return last();
    return ok();
}

Error flush_volume(const Handle& dir) {
#ifdef __linux__
    return ::syncfs(fd(dir)) == 0 ? ok() : last();
#else
    (void)dir;
    ::sync();
    return ok();
#endif
}

bool folder_flush() { return true; }

bool volume_flush() { return true; }

Error free_space(const Handle& dir, Space& out) {
    struct statvfs vfs {};
    if (::fstatvfs(fd(dir), &vfs) != 0) return last();
    out.free_bytes = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    // A file system without an inode table (f_files 0) never runs out of them.
    out.free_inodes = vfs.f_files == 0 ? UINT64_MAX : static_cast<std::uint64_t>(vfs.f_favail);
    return ok();
}

std::string entry_problem_at(const Handle& dir, const std::string& name) {
    struct stat st {};
    // A symlink cannot carry the flags, and opening it would follow it.
    if (::fstatat(fd(dir), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || S_ISLNK(st.st_mode)) return {};
    Handle entry = adopt(::openat(fd(dir), name.c_str(), kReadFlags | (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0)));
    return entry.valid() ? flag_words(fd(entry)) : std::string();
}

std::string folder_problem(const Handle& dir) {
    if (auto flags = flag_words(fd(dir)); !flags.empty()) return flags;
    if (::faccessat(fd(dir), ".", W_OK | X_OK, 0) == 0) return {};
    if (errno == EROFS) return "it is on a read-only mount; remount it writable";
    if (errno == EACCES || errno == EPERM)
        return "this account may not change it; check the permissions of the account running exmsync";
    return std::string("cannot check it: ") + std::strerror(errno);
}

}  // namespace exmsync::platform
