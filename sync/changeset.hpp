// A changeset: the operations that bring a target from one manifest (the
// base) to another, with what each touched path must hold beforehand. Built
// once per (base -> new) pair and applied all-or-nothing by apply.hpp.
//
// A changeset is a stream, never a vector: a small header (roots, counts,
// the filter it was planned with, the hash of the operations) and an
// operation list kept in a local file, one canonical JSON object per line,
// in path order (manifest order of Op::path; where one path is both removed
// and created, the removal comes first). Readers check that order line by
// line, so a list is validated without being held.
#pragma once

#include <boost/filesystem/path.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "manifest/entry.hpp"
#include "manifest/file_system.hpp"
#include "manifest/filter.hpp"
#include "manifest/sorted_file.hpp"

namespace exmsync::sync {

// Version 2 streams its operations; version 1 held them in one JSON array.
inline constexpr int kChangesetVersion = 2;

enum class OpKind { Mkdir, Write, Delete, Rename, Rmdir };

// What a path holds on the target before the changeset applies.
struct Expect {
    manifest::EntryType type = manifest::EntryType::File;
    std::uint64_t size = 0;
    manifest::Hash128 hash;
    bool operator==(const Expect&) const = default;
};

struct Op {
    OpKind kind = OpKind::Write;
    std::string path;  // for a rename, the destination
    std::string from;  // rename only: the source path
    // Write and Rename: the content the path ends up with, and its mtime.
    std::uint64_t size = 0;
    manifest::Hash128 hash;
    std::int64_t mtime_ns = 0;
    // Write: what it replaces (absent: a new file). Delete, Rmdir: what is
    // removed. Rename: what is at `from`. Mkdir: always absent.
    std::optional<Expect> base;

    bool operator==(const Op&) const = default;
    // The op removes what is at `path` (or at `from` for a rename).
    bool removes() const;
    // The op puts something new at `path`.
    bool creates() const;
    // The path whose old content the op removes.
    const std::string& removed_path() const { return kind == OpKind::Rename ? from : path; }
};

struct ChangeCounts {
    std::uint64_t writes = 0, deletes = 0, renames = 0, mkdirs = 0, rmdirs = 0, bytes = 0;
    std::uint64_t ops() const { return writes + deletes + renames + mkdirs + rmdirs; }
    void add(const Op& op);
    bool operator==(const ChangeCounts&) const = default;
};

// The filter a changeset was planned with. The target is scanned with the
// same one, so that its root can be compared with the base root.
struct FilterSpec {
    std::vector<std::string> include;
    std::vector<std::string> exclude;
    bool default_excludes = true;

    manifest::Filter filter() const;  // throws manifest::Error on a bad glob
    bool operator==(const FilterSpec&) const = default;
};

struct ChangesetHeader {
    manifest::Hash128 base_root;
    manifest::Hash128 new_root;
    ChangeCounts counts;
    FilterSpec filter;
    // false: created paths may hold names Windows refuses (--allow-unportable-names).
    bool portable = true;
    manifest::Hash128 ops_hash;  // XXH3-128 of the operation list's bytes

    bool empty() const { return counts.ops() == 0; }
    // 16 hex digits of the hash of the header's encoding (which covers the
    // operations through ops_hash): the same changeset, the same id.
    std::string id() const;
    bool operator==(const ChangesetHeader&) const = default;
};

// A changeset ready to apply: its header and its operation list's file.
struct Changeset {
    ChangesetHeader header;
    boost::filesystem::path ops;
};

const char* op_name(OpKind kind);

// Canonical JSON, keys sorted, no spaces: the same header, the same bytes.
std::string encode_header(const ChangesetHeader& header);
// Throws sync::Error naming `where`: not a changeset, an unknown version
// (version 1 is told to pack again), a damaged field.
ChangesetHeader decode_header(std::string_view text, const std::string& where);

// One operation as one line of canonical JSON (no newline).
std::string encode_op(const Op& op);
// Throws sync::Error naming `where`: unknown op or field, a path no changeset
// may hold (see path_problem below), a delete or rmdir without its base.
Op decode_op(std::string_view line, const std::string& where, bool portable);

// Why `path` may not appear in a changeset, or empty. Every path: relative,
// no "", "." or ".." parts, no NUL, never the state folder in any letter
// case. A path the changeset creates on a portable changeset also follows
// Windows' rules: no reserved device names, no trailing dot or space, none
// of <>:"|?*\ or control characters (so no drive letters, alternate data
// streams or backslash traversal on a Windows or SMB target).
std::string path_problem(std::string_view path, bool created, bool portable);

// Writes an operation list to a local file, checking order and paths as it
// goes, and keeps the counts and the hash for the header.
class OpListWriter {
public:
    OpListWriter(const boost::filesystem::path& file, bool portable = true);
    // Throws sync::Error ("internal: ...") for an op out of order or invalid.
    void add(const Op& op);
    // Flushes and closes; fills in counts and ops_hash of `header`.
    void finish(ChangesetHeader& header);

private:
    manifest::LineWriter out_;
    bool portable_;
    ChangeCounts counts_;
    manifest::StreamHasher hasher_;
    std::optional<Op> last_;
};

// Reads an operation list back, one op at a time, checking every line and
// the order; finish() checks the counts and the hash against the header.
class OpListReader {
public:
    OpListReader(const boost::filesystem::path& file, const ChangesetHeader& header, std::string where);
    ~OpListReader();
    // false at the end (after which the list was checked whole).
    bool next(Op& op);

private:
    manifest::LineReader in_;
    const ChangesetHeader& header_;
    std::string where_;
    ChangeCounts counts_;
    manifest::StreamHasher hasher_;
    std::optional<Op> last_;
    std::string line_;
    bool done_ = false;
};

// Why `next` may not follow `prev` in an operation list, or empty.
std::string order_problem(const Op& prev, const Op& next);

// Configuration files are committed last, so an application that restarts
// when its config changes finds the new templates already in place.
bool is_config_path(std::string_view path);

}  // namespace exmsync::sync
