// The POSIX layer of the local backend: file descriptors, errno -> exception
// mapping, and the Reader/Writer over a descriptor. Internal to transport/;
// only local.cpp (and its tests) include it. A Windows build replaces this
// pair of files, not the interface.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <string>

#include "transport/transport.hpp"

namespace exmsync::transport::posix {

// Owns one file descriptor; closes it on destruction.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(Fd&& other) noexcept : fd_(other.release()) {}
    Fd& operator=(Fd&& other) noexcept;
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd();

    int get() const { return fd_; }
    int release();
    // Closes now and reports close's errno (0 on success): some network file
    // systems only report a failed write at close.
    int close_now();

private:
    int fd_ = -1;
};

// openat2 with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS: opens `path` below
// folder `dir` refusing any symlink on the way and any way out of `dir`.
// Returns -1 (errno set) on failure, including ENOSYS on kernels without it.
int open_beneath(int dir, const char* path, int flags);

// Where an operation happened, for messages: "target ROOT: cannot VERB PATH".
struct Where {
    const std::string& target;
    std::string verb;
    const std::string& path;
};

// Throws the exception for `error_number` (ENOENT -> NotFound, EEXIST ->
// AlreadyExists, else Error) with a one-line message that names the target,
// the path, the cause and what to do. `detail` (may be empty) names what the
// cause applies to when it is not the path itself, e.g. a folder on the way.
// ELOOP is explained as "DETAIL is a symlink" and thrown as Error.
[[noreturn]] void throw_errno(const Where& where, int error_number, const std::string& detail = {});

// Throw Error / NotFound naming the target and path, with `why` as the cause.
[[noreturn]] void throw_error(const Where& where, const std::string& why);
[[noreturn]] void throw_not_found(const Where& where, const std::string& why);

Stat to_stat(const struct stat& st);

// Why the kernel would refuse to change or remove the entry open as `fd`
// ("it is immutable", "it is append-only"), or "" (also where the file
// system keeps no such flags).
std::string flag_problem(int fd);
// Why entries cannot be created in or removed from the folder open as `fd`:
// its flags, or no write permission for this account, or a read-only mount.
std::string folder_problem(int fd);
struct timespec to_timespec(std::int64_t ns);

// renameat2(RENAME_NOREPLACE) with a fallback for file systems that lack it
// (set `force_fallback` to test it). Returns 0 or an errno value.
int rename_noreplace(int from_dir, const char* from, int to_dir, const char* to,
                     bool force_fallback = false);

// A Reader / Writer that owns `fd` and names `target` and `path` in its messages.
std::unique_ptr<Reader> make_fd_reader(Fd fd, const std::string& target, const std::string& path);
std::unique_ptr<Writer> make_fd_writer(Fd fd, const std::string& target, const std::string& path);

}  // namespace exmsync::transport::posix
