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
#include "manifest/tree.hpp"

namespace exmsync::manifest {

struct ScanOptions {
    Filter filter;
    // The stat cache to read (absent or missing file: none) and the one to
    // write (none: the cache is not updated). They may be the same file.
    std::optional<boost::filesystem::path> cache_in;
    std::optional<boost::filesystem::path> cache_out;
    // Where to write, one escaped path per line in manifest order, every
    // folder that directly holds something the manifest leaves out (a
    // filtered-out entry, a special file, an unrecorded symlink, a state
    // folder). The root is never listed. A push never removes such a folder.
    std::optional<boost::filesystem::path> hidden_out;
    // false: symlinks are left out with a warning (a push never copies them).
    bool record_symlinks = true;
    unsigned threads = 0;  // 0: one per core
    int attempts = 3;      // hashes of a file that keeps changing
    // When the scan counts as started, for the racy-clean rule (default:
    // now). Tests put it later instead of waiting for the window to pass.
    std::optional<std::int64_t> started_ns;
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
    // Skipped special files and unrecorded symlinks (the first kMaxWarningsKept).
    std::vector<std::string> warnings;
    std::uint64_t warning_count = 0;
    // Names Windows would refuse or merge (the first kMaxNameProblemsKept).
    std::vector<std::string> name_problems;
    std::uint64_t name_problem_count = 0;
    std::uint64_t hidden_folders = 0;  // lines written to ScanOptions::hidden_out
};

inline constexpr std::size_t kMaxWarningsKept = 50;

// Scans `tree` and writes every entry to `out` (then finishes it). Symlinks
// are recorded, never followed. Throws Error naming the path for a missing
// root, an unreadable file or folder, or a file that keeps changing.
ScanResult scan_tree(Tree& tree, const ScanOptions& options, ManifestWriter& out);
// The same for the local folder `root`.
ScanResult scan_tree(const boost::filesystem::path& root, const ScanOptions& options, ManifestWriter& out);

}  // namespace exmsync::manifest
