// The difference between two manifests, as a merge-join of two streams in
// manifest order. A directory whose Merkle hash is the same on both sides is
// skipped whole, so equal subtrees cost a read, never a comparison.
//
// Changes stream out in manifest order of their path. Rename detection pairs
// removed files with added files of the same content; it needs every removed
// and added file at once, so those go through external sorts and the changes
// wait in a temporary file until the pairs are known. Memory stays bounded
// either way.
#pragma once

#include <cstdint>
#include <functional>
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

struct DiffSummary {
    Hash128 root_a;
    Hash128 root_b;
    std::uint64_t change_count = 0;     // handed to the sink
    std::uint64_t skipped_subtrees = 0; // directories not descended: equal hashes
    bool same() const { return root_a == root_b; }
};

struct DiffOptions {
    // Pair a removed file with an added one of the same content as a rename.
    bool detect_renames = true;
};

using ChangeSink = std::function<void(const Change&)>;

// Hands every change to `sink`, in manifest order of Change::path. Throws
// Error when either stream is corrupt; an exception from `sink` propagates.
DiffSummary diff_streams(EntryStream& a, EntryStream& b, const DiffOptions& options, const ChangeSink& sink);

// Every change at once: for small manifests and tests.
struct DiffResult : DiffSummary {
    std::vector<Change> changes;
};
DiffResult diff_all(EntryStream& a, EntryStream& b, const DiffOptions& options = {});

// "A ", "D ", "M ", "T ", "R ": the first column of `git status --short`.
const char* change_code(ChangeKind kind);
// added, removed, modified, type_changed, renamed: the JSON vocabulary.
const char* change_name(ChangeKind kind);

}  // namespace exmsync::manifest
