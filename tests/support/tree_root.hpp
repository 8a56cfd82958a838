// The Merkle root of a folder as a cold scan sees it (state folder left out):
// equal roots mean the same files, byte for byte.
#pragma once

#include "manifest/format.hpp"
#include "manifest/scanner.hpp"
#include "support/temp_tree.hpp"

namespace exmsync::testing {

inline manifest::Hash128 tree_root(const fs::path& tree) {
    TempDir scratch;
    manifest::ManifestWriter writer(scratch / "manifest");
    return manifest::scan_tree(tree, manifest::ScanOptions{}, writer).root;
}

}  // namespace exmsync::testing
