// A transport as a manifest::Tree, so a target reached through any backend
// is scanned by the same scanner as a local folder. Calls are serialized (a
// Transport serves one thread at a time), and a file counts as unchanged by
// its size, mtime and, where the backend has them, inode and ctime after it
// was read.
#pragma once

#include <memory>

#include "manifest/tree.hpp"
#include "transport/transport.hpp"

namespace exmsync::sync {

std::unique_ptr<manifest::Tree> transport_tree(transport::Transport& transport);

}  // namespace exmsync::sync
