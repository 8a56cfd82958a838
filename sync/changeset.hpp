// A changeset: the operations that bring a target from one manifest (the
// base) to another, with what each touched path must be beforehand. Built
// once per (base -> new) pair and applied all-or-nothing by apply.hpp.
//
// Encoded as canonical JSON (keys sorted, no spaces), so the same changeset
// always gives the same bytes, and decode(encode(c)) == c.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "manifest/entry.hpp"

namespace exmsync::sync {

inline constexpr int kChangesetVersion = 1;

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
};

struct Changeset {
    manifest::Hash128 base_root;
    manifest::Hash128 new_root;
    std::vector<Op> ops;

    bool operator==(const Changeset&) const = default;
    bool empty() const { return ops.empty(); }
    // 16 hex digits of the hash of the encoding: the same changeset, the same id.
    std::string id() const;
    std::uint64_t bytes_to_write() const;
};

const char* op_name(OpKind kind);

std::string encode(const Changeset& changeset);

// Throws sync::Error naming `where` when the text is not a valid changeset:
// unknown version or op, unsafe paths (absolute, "..", "." or empty parts),
// a path removed or created twice, a rename onto itself.
Changeset decode(std::string_view text, const std::string& where);

// Why `path` may not appear in a changeset, or empty. Beyond a manifest's
// rules (relative, no "", "." or ".." parts, no NUL), a changeset refuses
// what would be traversal on a Windows or SMB target: a backslash, or a
// part that starts with a drive letter ("C:").
std::string changeset_path_problem(std::string_view path);

// Checks the rules decode() enforces; throws sync::Error naming `where`.
void validate(const Changeset& changeset, const std::string& where);

// Configuration files are committed last, so an application that restarts
// when its config changes finds the new templates already in place.
bool is_config_path(std::string_view path);

}  // namespace exmsync::sync
