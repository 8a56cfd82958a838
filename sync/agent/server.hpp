// The agent's side: `exmsync agent --root=PATH`, started by a client over
// SSH (or any byte stream), serves that one folder with the apply protocol
// running next to its files. See protocol.hpp for what it answers.
#pragma once

#include <string>

#include "sync/agent/stream.hpp"

namespace exmsync::sync::agent {

// Serves `root` over `stream` until the client closes it or the connection
// drops; the target's lock is released either way. `name` is what messages
// call the target (the client's URL for it). Returns the exit code: 0 when
// the client ended the session, 2 when the handshake failed or the
// connection was lost.
int serve(ByteStream& stream, const std::string& root, const std::string& name);

}  // namespace exmsync::sync::agent
