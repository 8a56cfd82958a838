// The touch list: one record per path a changeset touches, in manifest order,
// saying what the path holds before (when it is removed or replaced) and what
// it holds after. Every later step of the apply (staging the backup folders,
// the pre-flight, the journal) walks this list instead of the operations,
// because a rename touches two paths far apart in the operation list.
//
// Building it is the base check: every removal must find what it expects in
// the target's manifest, every creation a free place in a folder that exists
// (or that the changeset makes), and every folder the changeset removes must
// lose everything the manifest lists in it.
#pragma once

#include <boost/filesystem/path.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "sync/changeset.hpp"
#include "sync/error.hpp"

namespace exmsync::sync {

// The target does not hold what the changeset expects; nothing was changed.
class DriftError : public Error {
public:
    using Error::Error;
    const char* code() const override { return "drift"; }
};

// The target's root is not the changeset's base root (a stale or replayed
// changeset); nothing was changed.
class BaseMismatch : public DriftError {
public:
    using DriftError::DriftError;
    const char* code() const override { return "base-mismatch"; }
};

struct Touch {
    enum class Make : char { Nothing = '-', Folder = 'd', Write = 'w', Move = 'm' };

    std::string path;
    std::optional<Expect> before;  // what the changeset removes or replaces here
    std::string moves_to;          // a rename source: where `before` goes
    Make make = Make::Nothing;
    // Write and Move: the new content and its mtime.
    std::uint64_t size = 0;
    manifest::Hash128 hash;
    std::int64_t mtime_ns = 0;
    std::uint64_t staged = 0;  // Write: its ordinal among the write ops
    std::string moves_from;    // Move: the rename source
    // Inside a new folder that is staged whole and moved into place by one
    // rename (TreeFinder in touches.cpp): that folder's path, and its
    // ordinal among such folders (from 1; 0: not in one).
    std::string tree_root;
    std::uint64_t tree = 0;

    bool removes_folder() const { return before && before->type == manifest::EntryType::Directory; }
    bool is_tree_root() const { return tree != 0 && path == tree_root; }
    bool operator==(const Touch&) const = default;
};

std::string encode_touch(const Touch& touch);
Touch decode_touch(std::string_view line);

// Writes the touch list of the operation list `ops` to `out`, checking it
// against `base_manifest` (the target's manifest now), and marks the new
// folders that are staged whole: those holding only new files and folders,
// with no configuration file (committed last) and nothing renamed into
// them. Throws DriftError
// naming up to a few paths when the target differs, and Error when the
// operations contradict each other (a damaged changeset).
void build_touches(const boost::filesystem::path& ops, const ChangesetHeader& header,
                   const boost::filesystem::path& base_manifest, const boost::filesystem::path& out,
                   const std::string& target);

// Reads a touch list back.
class TouchReader {
public:
    explicit TouchReader(const boost::filesystem::path& file) : in_(file) {}
    bool next(Touch& touch);

private:
    manifest::LineReader in_;
    std::string line_;
};

}  // namespace exmsync::sync
