// The Merkle hash of a tree. A directory's hash covers, in manifest order,
// each child's name, type, size and hash; the root hash is the same over the
// top-level entries. Timestamps, inodes and scan order never enter it.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "manifest/entry.hpp"

namespace exmsync::manifest {

class TreeHasher {
public:
    // Called with each directory when its last descendant has been added.
    using DirectoryDone = std::function<void(const std::string& path, const Hash128& hash)>;

    explicit TreeHasher(DirectoryDone on_directory_done = {});
    ~TreeHasher();
    TreeHasher(const TreeHasher&) = delete;
    TreeHasher& operator=(const TreeHasher&) = delete;

    // Entries must come in manifest order, each after its parent directory.
    // Returns false (and adds nothing) when the entry's parent is not the
    // directory most recently opened; the hash of a directory entry is ignored.
    bool add(const Entry& entry);

    // Closes every open directory and returns the root hash.
    Hash128 finish();

private:
    struct Frame;
    void close_until(std::string_view path);
    void close_top();
    std::vector<Frame*> stack_;  // stack_[0] is the root
    DirectoryDone on_directory_done_;
};

// The hash of a folder with nothing in it.
Hash128 empty_folder_hash();

}  // namespace exmsync::manifest
