// The Merkle root of a folder as a cold scan sees it (state folder left out):
// equal roots mean the same files, byte for byte. And everything a folder
// holds with sizes and times, for "nothing was written".
#pragma once

#include <map>
#include <string>

#include "manifest/format.hpp"
#include "manifest/scanner.hpp"
#include "platform/files.hpp"
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
    auto describe = [](const fs::path& path, bool with_size) {
        platform::Info info;
        if (platform::stat_path(path.string(), info)) return std::string("?");
        return std::to_string(static_cast<int>(info.kind)) + (with_size ? " " + std::to_string(info.size) : "") +
               " " + std::to_string(info.mtime_ns);
    };
    std::map<std::string, std::string> out;
    out["."] = describe(root, false);
    for (fs::recursive_directory_iterator it(root), end; it != end; ++it)
        out[fs::relative(it->path(), root).generic_string()] = describe(it->path(), true);
    return out;
}

}  // namespace exmsync::testing
