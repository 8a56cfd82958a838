// The local backend: a folder on this machine or a mounted share.
//
// Every call resolves its path from a descriptor of the root opened once, one
// component at a time with O_NOFOLLOW, and acts on the last component with a
// *at() call that does not follow it either: nothing is ever read, written,
// created, renamed or removed through a symlink on the target, even when a
// folder on the way is swapped for a link while exmsync runs. The root itself
// may be reached through a symlink, since the operator chose it.
#pragma once

#include <boost/filesystem/path.hpp>
#include <memory>

#include "transport/transport.hpp"

namespace exmsync::transport {

// Opens the folder `root` (relative paths are made absolute now). Throws Error
// "target X does not exist or is not a folder; check the path or mount" when
// it cannot be opened as a folder. `name`, when given, is what messages call
// the folder (an agent says the URL its client knows it by).
std::unique_ptr<Transport> make_local_transport(const boost::filesystem::path& root, const std::string& name = {});

}  // namespace exmsync::transport
