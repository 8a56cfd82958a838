// What a scan reads: a tree of folders, files and symlinks under one root.
// The local file system is one (local_tree); sync/ adapts any transport to
// it, so a target reached over SFTP or SMB is scanned by the same code.
//
// Paths are relative: '/'-separated, "" is the root. Several threads may call
// one Tree at once (a backend that cannot says so through parallelism()).
#pragma once

#include <boost/filesystem/path.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "manifest/file_system.hpp"

namespace exmsync::manifest {

class Tree {
public:
    virtual ~Tree() = default;
    // The root, for messages: a folder or a URL.
    virtual std::string describe() const = 0;
    // Like lstat; nullopt when nothing is there. Throws Error naming the path.
    virtual std::optional<FileStat> stat(const std::string& path) = 0;
    // The children of a folder, each lstat'ed, sorted by name bytes; a child
    // removed while listing is left out. Throws Error naming the folder.
    virtual std::vector<DirChild> list(const std::string& dir) = 0;
    // A hint: these folders will be listed soon, in this order (a remote
    // tree fetches them ahead).
    virtual void list_ahead(const std::vector<std::string>& dirs) { (void)dirs; }
    // Hashes a regular file without following a symlink. nullopt when the
    // file is not the version `before` describes or changed while it was read
    // (the caller looks again): never a torn hash. Throws Error naming it.
    virtual std::optional<HashedFile> hash(const std::string& path, const FileStat& before) = 0;
    // The target text of a symlink. Throws Error naming it.
    virtual std::string read_symlink(const std::string& path) = 0;
    // How many threads may hash at once: 0 for one per core.
    virtual unsigned parallelism() const { return 0; }
};

// The local folder `root`.
std::unique_ptr<Tree> local_tree(const boost::filesystem::path& root);

}  // namespace exmsync::manifest
