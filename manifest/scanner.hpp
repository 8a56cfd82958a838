// Scans a local tree into a manifest: a walk in manifest order, file hashing
// on a pool of threads, and the stat cache merged in step with the walk, so
// memory grows with the tree's depth and the hashing queue, never with its
// file count.
#pragma once

#include <boost/filesystem/path.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "manifest/entry.hpp"
#include "manifest/filter.hpp"
#include "manifest/format.hpp"

namespace exmsync::manifest {

struct ScanOptions {
    Filter filter;
    // Where the stat cache lives; none: hash every file.
    std::optional<boost::filesystem::path> cache_file;
    // Relative paths never scanned: the state folder.
    std::vector<std::string> skip = {".exmsync"};
    // false: symlinks are left out with a warning (a push never copies them).
    bool record_symlinks = true;
    unsigned threads = 0;  // 0: one per core
    int attempts = 3;      // hashes of a file that keeps changing
};

struct ScanStats {
    std::uint64_t files = 0;
    std::uint64_t directories = 0;
    std::uint64_t symlinks = 0;
    std::uint64_t bytes = 0;         // size of all files
    std::uint64_t hashed_files = 0;  // files whose content was read
    std::uint64_t hashed_bytes = 0;
    std::uint64_t cached_files = 0;  // files whose hash came from the stat cache
};

struct ScanResult {
    Hash128 root;
    ScanStats stats;
    std::vector<std::string> warnings;  // names Windows would refuse or merge, skipped special files
};

// Scans `root` and writes every entry to `out` (then finishes it). Symlinks
// are recorded, never followed. Throws Error naming the path for a missing
// root, an unreadable file or folder, or a file that keeps changing.
ScanResult scan_tree(const boost::filesystem::path& root, const ScanOptions& options, ManifestWriter& out);

}  // namespace exmsync::manifest
