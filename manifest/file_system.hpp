// The scanner's file-system calls, in the manifest's terms and with its
// messages, over the platform layer (platform/files.hpp): identity and
// change time, listing with each child described, reading without
// following a link, and hashing.
#pragma once

#include <boost/filesystem/path.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "manifest/entry.hpp"

namespace exmsync::manifest {

enum class FileKind { File, Directory, Symlink, Other };

struct FileStat {
    FileKind kind = FileKind::Other;
    std::uint64_t device = 0;
    std::uint64_t inode = 0;
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::int64_t ctime_ns = 0;

    bool operator==(const FileStat&) const = default;
};

// lstat: a symlink is described, never followed. Throws Error naming the path.
FileStat stat_path(const boost::filesystem::path& path);
// The same, but nullopt when nothing is there.
std::optional<FileStat> stat_if_exists(const boost::filesystem::path& path);

struct DirChild {
    std::string name;
    FileStat stat;
};

// The children of a folder with their lstat, sorted by name bytes (which is
// manifest order among siblings). A child removed while the folder is listed
// is left out. Throws Error naming the folder when it cannot be read. Each
// child is stat'ed relative to the open folder, which measured about twice
// as fast as Boost's directory_iterator with an lstat of every full path.
std::vector<DirChild> list_directory(const boost::filesystem::path& dir);

struct HashedFile {
    Hash128 hash;
    std::uint64_t bytes_read = 0;
};

// Hashes a regular file without following a symlink. Returns nullopt when the
// file is not the one `before` describes, or changed while it was read (size,
// mtime, ctime or inode differ), so a caller never records a torn hash.
// Throws Error naming the path when it cannot be opened or read.
std::optional<HashedFile> hash_file(const boost::filesystem::path& path, const FileStat& before);

Hash128 hash_bytes(std::string_view bytes);

// XXH3-128 over data given in pieces; the same result as hash_bytes over all of it.
class StreamHasher {
public:
    StreamHasher();
    ~StreamHasher();
    StreamHasher(const StreamHasher&) = delete;
    StreamHasher& operator=(const StreamHasher&) = delete;
    void update(const char* data, std::size_t size);
    Hash128 digest() const;

private:
    void* state_;
};

// The target text of a symlink. Throws Error naming the path.
std::string read_symlink(const boost::filesystem::path& path);

}  // namespace exmsync::manifest
