// The ssh:// backend: a target folder on a server reached through SFTP
// (libssh), for servers without an exmsync of their own (the agentless mode).
//
// SFTP version 3 as OpenSSH serves it decides the capabilities: a rename is
// link + unlink (never replaces, but a cut one can leave both names), there is
// no inode, no ctime and mtimes are whole seconds. Files, and on a POSIX
// server folders, are flushed with OpenSSH's fsync@openssh.com; flush_all
// runs `sync -f ROOT` on the server through an exec channel (one per apply,
// for the staged files). A Windows server declares durable_flush false.
// SFTP has no *at() calls: every folder on the way to a path is checked not to
// be a symlink (and remembered) before the path is used.
#pragma once

#include <memory>
#include <string>

#include "transport/ssh_session.hpp"
#include "transport/transport.hpp"

namespace exmsync::transport {

// Connects (host key and authentication as SshSession does) and opens the
// folder of `url` over SFTP. Throws Error naming the target and what to do.
std::unique_ptr<Transport> open_sftp(const std::string& url, const SshOptions& options);

// The same over a session already open (the agent mode falls back to SFTP on it).
std::unique_ptr<Transport> open_sftp(std::shared_ptr<SshSession> session);

}  // namespace exmsync::transport
