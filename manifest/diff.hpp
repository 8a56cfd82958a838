// The difference between two manifests, as a merge-join of two streams in
// manifest order. A directory whose Merkle hash is the same on both sides is
// skipped whole, so equal subtrees cost a read, never a comparison.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "manifest/entry.hpp"
#include "manifest/format.hpp"

namespace exmsync::manifest {

enum class ChangeKind { Added, Removed, Modified, TypeChanged, Renamed };

struct Change {
    ChangeKind kind;
    std::string path;            // the path on side B (on side A for Removed)
    std::optional<Entry> before; // on side A; absent for Added
    std::optional<Entry> after;  // on side B; absent for Removed
    // Renamed: before->path is the old path, after->path the new one.
};

struct DiffResult {
    Hash128 root_a;
    Hash128 root_b;
    std::vector<Change> changes;        // in manifest order of `path`
    std::uint64_t skipped_subtrees = 0; // directories not descended: equal hashes
    bool same() const { return changes.empty(); }
};

struct DiffOptions {
    // Pair a removed file with an added one of the same content as a rename.
    bool detect_renames = true;
};

// Throws Error when either stream is corrupt.
DiffResult diff_streams(EntryStream& a, EntryStream& b, const DiffOptions& options = {});

// "A ", "D ", "M ", "T ", "R ": the first column of `git status --short`.
const char* change_code(ChangeKind kind);
const char* change_name(ChangeKind kind);

}  // namespace exmsync::manifest
