// Real faults from the kernel, for the failure tests: an immutable file
// (chattr +i), a tmpfs with little room or few inodes, a tmpfs mounted inside
// a target (another volume). Each helper says why when the machine cannot
// provide the fault, so the test can skip naming the reason; the
// fault-injecting transport covers the same steps everywhere.
#pragma once

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "support/temp_tree.hpp"

namespace exmsync::testing {

// Sets or clears the immutable flag; returns "" or why it cannot.
inline std::string set_immutable(const fs::path& path, bool on) {
    int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return std::string("cannot open ") + path.string() + ": " + std::strerror(errno);
    int flags = 0;
    std::string why;
    if (::ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) {
        why = std::string("this file system keeps no file flags (") + std::strerror(errno) + ")";
    } else {
        flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
        if (::ioctl(fd, FS_IOC_SETFLAGS, &flags) != 0)
            why = std::string("cannot set the immutable flag (needs CAP_LINUX_IMMUTABLE): ") + std::strerror(errno);
    }
    ::close(fd);
    return why;
}

// A tmpfs mounted on `dir` (created) for the life of this object.
class Tmpfs {
public:
    Tmpfs(const fs::path& dir, const std::string& options) : dir_(dir) {
        fs::create_directories(dir);
        if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) == 0) mounted_ = true;
        else why_ = std::string("cannot mount a tmpfs (needs root): ") + std::strerror(errno);
    }
    ~Tmpfs() {
        if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
    }
    Tmpfs(const Tmpfs&) = delete;
    Tmpfs& operator=(const Tmpfs&) = delete;

    // "" when mounted, else why not.
    const std::string& why_not() const { return why_; }
    // Changes the limits of the mounted tmpfs (size=..., nr_inodes=...).
    bool remount(const std::string& options) {
        return ::mount("tmpfs", dir_.c_str(), "tmpfs", MS_REMOUNT, options.c_str()) == 0;
    }
    std::uint64_t used_inodes() const {
        struct statvfs v {};
        ::statvfs(dir_.c_str(), &v);
        return v.f_files - v.f_ffree;
    }

private:
    fs::path dir_;
    bool mounted_ = false;
    std::string why_;
};

// Fills the rest of a volume's inodes with empty files in `dir`; returns how many.
inline int use_up_inodes(const fs::path& dir) {
    fs::create_directories(dir);
    int n = 0;
    while (true) {
        int fd = ::open((dir / std::to_string(n)).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0) return n;
        ::close(fd);
        ++n;
    }
}

}  // namespace exmsync::testing
