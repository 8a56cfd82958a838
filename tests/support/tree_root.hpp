// The Merkle root of a folder as a cold scan sees it (state folder left out):
// equal roots mean the same files, byte for byte. And everything a folder
// holds with sizes and times, for "nothing was written".
#pragma once

#include <sys/stat.h>

#include <map>
#include <string>

#include "manifest/format.hpp"
#include "manifest/scanner.hpp"
#include "support/temp_tree.hpp"

namespace exmsync::testing {

inline manifest::Hash128 tree_root(const fs::path& tree) {
    TempDir scratch;
    manifest::ManifestWriter writer(scratch / "manifest");
    return manifest::scan_tree(tree, manifest::ScanOptions{}, writer).root;
}

// Every file and folder under `root`, the state folder and root included,
// with type, size and mtime: what "nothing was written" means.
inline std::map<std::string, std::string> everything(const fs::path& root) {
    std::map<std::string, std::string> out;
    struct stat st {};
    ::lstat(root.c_str(), &st);
    out["."] = std::to_string(st.st_mode) + " " + std::to_string(st.st_mtim.tv_sec) + "." +
               std::to_string(st.st_mtim.tv_nsec);
    for (fs::recursive_directory_iterator it(root), end; it != end; ++it) {
        ::lstat(it->path().c_str(), &st);
        out[fs::relative(it->path(), root).string()] = std::to_string(st.st_mode) + " " + std::to_string(st.st_size) +
                                                      " " + std::to_string(st.st_mtim.tv_sec) + "." +
                                                      std::to_string(st.st_mtim.tv_nsec);
    }
    return out;
}

}  // namespace exmsync::testing
