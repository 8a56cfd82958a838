// The unit of a manifest: one path with its type, size and content hash.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace exmsync::manifest {

enum class EntryType : char { File = 'f', Directory = 'd', Symlink = 'l' };

// XXH3-128. hex() prints it exactly as `xxhsum -H2` does: the canonical
// (big-endian) form, high half first, lowercase.
struct Hash128 {
    std::uint64_t high = 0;
    std::uint64_t low = 0;

    std::string hex() const;
    void append_hex(std::string& out) const;  // hex() appended, for per-file records
    static std::optional<Hash128> from_hex(std::string_view text);
    auto operator<=>(const Hash128&) const = default;
};

// A path is relative, '/'-separated, and never contains "", "." or ".."
// components. For a directory, hash is the Merkle hash of its children and size
// is 0; for a symlink, hash and size describe the link's target text.
struct Entry {
    std::string path;
    EntryType type = EntryType::File;
    std::uint64_t size = 0;
    Hash128 hash;

    bool operator==(const Entry&) const = default;
};

const char* type_name(EntryType type);

// Manifest order: component by component, each compared as bytes. This is the
// byte order of the paths with '/' ranked below every other byte, so a
// directory comes right before its own subtree and a tree can be written
// while it is walked.
int compare_paths(std::string_view a, std::string_view b);

// True when `path` lies strictly inside directory `dir` ("" is the root).
bool is_inside(std::string_view path, std::string_view dir);

// The parent directory of a path ("" for a top-level name) and its last component.
std::string_view parent_of(std::string_view path);
std::string_view name_of(std::string_view path);

// Empty when `path` is a valid manifest path, else why not.
std::string path_problem(std::string_view path);

// The state folder exmsync keeps in every target root. It is never part of a
// manifest or a changeset, at any depth and in any letter case: a Windows or
// SMB target would take `.EXMSYNC` for the state folder itself.
inline constexpr const char* kStateFolder = ".exmsync";
bool is_state_folder_name(std::string_view name);
// True when any component of `path` is a state folder name.
bool touches_state_folder(std::string_view path);

}  // namespace exmsync::manifest
