// The client's side of the agent mode: a Target whose every operation is a
// request to an exmsync agent on the server (protocol.hpp), and the choice,
// for an ssh:// target, between that agent and agentless SFTP.
//
// A push to an agent moves, beside the handshake, only the target's root
// (when it is in sync), then one archive (when it is not). The target's
// manifest, needed to plan, is taken from a local cache of manifests this
// machine sent before, by root, and fetched only when the target holds
// something else (a first push, hand edits).
#pragma once

#include <memory>
#include <string>

#include "sync/agent/stream.hpp"
#include "sync/target.hpp"

namespace exmsync::sync::agent {

// Shakes hands with whatever answers on `stream`. nullptr, with `why_not`
// saying why in a few words, when it is not an agent this exmsync can talk
// to (no exmsync there, an incompatible protocol). Throws UnreachableError
// when the stream itself fails.
std::unique_ptr<Target> connect_agent(std::unique_ptr<ByteStream> stream, const std::string& name,
                                      std::string& why_not);

// An ssh:// target: its agent, or SFTP when the server has none (unless
// options.mode says otherwise); through --rsh when options.rsh is set.
std::unique_ptr<Target> open_ssh_target(const std::string& url, const TargetOptions& options);

// The local cache of manifests by root ($XDG_CACHE_HOME/exmsync/manifests).
inline constexpr std::size_t kCachedManifests = 8;

}  // namespace exmsync::sync::agent
