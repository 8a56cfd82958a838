#include "transport/local_posix.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/fs.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#endif

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>

#include "transport/path.hpp"

namespace exmsync::transport::posix {

int open_beneath(int dir, const char* path, int flags) {
#if defined(__linux__) && defined(SYS_openat2)
    struct open_how how {};
    how.flags = static_cast<std::uint64_t>(flags);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    return static_cast<int>(::syscall(SYS_openat2, dir, path, &how, sizeof how));
#else
    (void)dir;
    (void)path;
    (void)flags;
    errno = ENOSYS;
    return -1;
#endif
}
namespace {

// What an operator can do about an errno; nullptr when the cause says it all.
const char* advice(int error_number) {
    switch (error_number) {
    case EACCES:
    case EPERM: return "check the permissions of the account running exmsync";
    case ENOSPC:
    case EDQUOT: return "free space on the target";
    case EROFS: return "the target is mounted read-only; remount it writable";
    case EIO: return "check the disk or the share's connection";
    case ENOTEMPTY: return "remove what is inside first";
    case EXDEV: return "both paths must be on the same volume";
    case ENAMETOOLONG: return "shorten the name";
    case EMFILE:
    case ENFILE: return "too many open files; raise the limit (ulimit -n)";
    default: return nullptr;
    }
}

std::string prefix(const Where& where) {
    return "target " + where.target + ": cannot " + where.verb + " " + quote_path(where.path) + ": ";
}

}  // namespace

Fd& Fd::operator=(Fd&& other) noexcept {
    if (this != &other) {
        close_now();
        fd_ = other.release();
    }
    return *this;
}

Fd::~Fd() { close_now(); }

int Fd::release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
}

int Fd::close_now() {
    if (fd_ < 0) return 0;
    // On Linux the descriptor is gone even when close fails, so never retry;
    // EINTR only means a signal arrived, not that data was lost.
    const int result = ::close(release());
    return result == 0 || errno == EINTR ? 0 : errno;
}

void throw_errno(const Where& where, int error_number, const std::string& detail) {
    std::string message = prefix(where);
    if (error_number == ELOOP) {  // strerror's "too many levels" would mislead
        throw Error(message + (detail.empty() ? "it" : detail) +
                    " is a symlink, and exmsync never goes through a link on a target; "
                    "replace it with a real file or folder");
    }
    if (!detail.empty()) message += detail + ": ";
    message += std::strerror(error_number);
    if (const char* what_to_do = advice(error_number)) message += std::string("; ") + what_to_do;
    if (error_number == ENOENT) throw NotFound(message);
    if (error_number == EEXIST) throw AlreadyExists(message);
    throw Error(message);
}

void throw_error(const Where& where, const std::string& why) { throw Error(prefix(where) + why); }

void throw_not_found(const Where& where, const std::string& why) { throw NotFound(prefix(where) + why); }

Stat to_stat(const struct stat& st) {
    Stat out;
    if (S_ISREG(st.st_mode)) out.kind = Kind::File;
    else if (S_ISDIR(st.st_mode)) out.kind = Kind::Directory;
    else if (S_ISLNK(st.st_mode)) out.kind = Kind::Symlink;
    out.size = static_cast<std::uint64_t>(st.st_size);
    out.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    out.ctime_ns = static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec;
    out.device = static_cast<std::uint64_t>(st.st_dev);
    out.inode = static_cast<std::uint64_t>(st.st_ino);
    return out;
}

std::string flag_problem(int fd) {
#if defined(__linux__) && defined(FS_IOC_GETFLAGS)
    int flags = 0;
    if (::ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) return {};  // no such flags here
    if (flags & FS_IMMUTABLE_FL) return "it is immutable (chattr +i); clear the flag with chattr -i";
    if (flags & FS_APPEND_FL) return "it is append-only (chattr +a); clear the flag with chattr -a";
#else
    (void)fd;
#endif
    return {};
}

std::string folder_problem(int fd) {
    if (auto flags = flag_problem(fd); !flags.empty()) return flags;
    if (::faccessat(fd, ".", W_OK | X_OK, 0) == 0) return {};
    if (errno == EROFS) return "it is on a read-only mount; remount it writable";
    if (errno == EACCES || errno == EPERM)
        return "this account may not change it; check the permissions of the account running exmsync";
    return std::string("cannot check it: ") + std::strerror(errno);
}

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

int rename_noreplace(int from_dir, const char* from, int to_dir, const char* to, bool force_fallback) {
#ifdef RENAME_NOREPLACE
    if (!force_fallback) {
        if (::renameat2(from_dir, from, to_dir, to, RENAME_NOREPLACE) == 0) return 0;
        // EINVAL: the file system lacks the flag (or a folder into itself,
        // which the renameat below reports again).
        if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) return errno;
    }
#else
    (void)force_fallback;
#endif
    // Check, then rename. Not atomic against a concurrent writer (the target
    // lock keeps other exmsync runs out), but unlike link+unlink a crash never
    // leaves the file under both names, which journal recovery relies on.
    struct stat st {};
    if (::fstatat(from_dir, from, &st, AT_SYMLINK_NOFOLLOW) != 0) return errno;
    if (::fstatat(to_dir, to, &st, AT_SYMLINK_NOFOLLOW) == 0) return EEXIST;
    if (errno != ENOENT) return errno;
    return ::renameat(from_dir, from, to_dir, to) == 0 ? 0 : errno;
}

namespace {

class FdReader final : public Reader {
public:
    FdReader(Fd fd, std::string target, std::string path)
        : fd_(std::move(fd)), target_(std::move(target)), path_(std::move(path)) {}

    std::size_t read(char* buffer, std::size_t size) override {
        while (true) {
            const ssize_t n = ::read(fd_.get(), buffer, size);
            if (n >= 0) return static_cast<std::size_t>(n);
            if (errno != EINTR) throw_errno({target_, "read", path_}, errno);
        }
    }

private:
    Fd fd_;
    std::string target_;
    std::string path_;
};

class FdWriter final : public Writer {
public:
    FdWriter(Fd fd, std::string target, std::string path)
        : fd_(std::move(fd)), target_(std::move(target)), path_(std::move(path)) {}

    void write(const char* data, std::size_t size) override {
        if (fd_.get() < 0) throw_error({target_, "write", path_}, "the file is already committed");
        while (size > 0) {
            const ssize_t n = ::write(fd_.get(), data, size);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw_errno({target_, "write", path_}, errno);
            data += n;
            size -= static_cast<std::size_t>(n);
        }
    }

    void set_mtime_on_commit(std::int64_t mtime_ns) override {
        if (fd_.get() < 0) throw_error({target_, "set the time of", path_}, "the file is already committed");
        mtime_ns_ = mtime_ns;
    }

    void commit(Flush flush) override {
        if (fd_.get() < 0) throw_error({target_, "commit", path_}, "the file is already committed");
        if (mtime_ns_) {
            const struct timespec times[2] = {{0, UTIME_OMIT}, to_timespec(*mtime_ns_)};
            if (::futimens(fd_.get(), times) != 0) {
                const int error_number = errno;
                fd_.close_now();
                throw_errno({target_, "set the time of", path_}, error_number);
            }
        }
        if (flush == Flush::Now && ::fsync(fd_.get()) != 0) {
            const int error_number = errno;
            fd_.close_now();  // never fsync again: see Writer::commit
            throw_errno({target_, "flush", path_}, error_number);
        }
        if (const int error_number = fd_.close_now()) throw_errno({target_, "close", path_}, error_number);
    }

private:
    Fd fd_;
    std::string target_;
    std::string path_;
    std::optional<std::int64_t> mtime_ns_;
};

}  // namespace

std::unique_ptr<Reader> make_fd_reader(Fd fd, const std::string& target, const std::string& path) {
    return std::make_unique<FdReader>(std::move(fd), target, path);
}

std::unique_ptr<Writer> make_fd_writer(Fd fd, const std::string& target, const std::string& path) {
    return std::make_unique<FdWriter>(std::move(fd), target, path);
}

}  // namespace exmsync::transport::posix
