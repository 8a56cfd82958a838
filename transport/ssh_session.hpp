// One SSH connection to one server, through libssh, for the SFTP transport
// and for the agent mode's exec channel.
//
// Host keys are checked strictly: the server's key must be in the known-hosts
// file the user names (default ~/.ssh/known_hosts, and no other file) or
// match a pinned SHA-256 fingerprint; an unknown or changed key is refused
// with its fingerprint and how to accept it, and accepting is an explicit
// option. libssh's own reading of ~/.ssh/config and the system ssh_config is
// off, so nothing there (StrictHostKeyChecking no) weakens this: a user who
// wants their own ssh's settings says so with --rsh. Authentication is by
// ssh-agent or key files, never a password.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "transport/transport.hpp"

namespace exmsync::transport {

// ssh://[user@]host[:port]/path. A Windows OpenSSH path keeps its drive:
// ssh://deploy@dds1/C:/inetpub/wwwroot/Website gives "C:/inetpub/...".
struct SshUrl {
    std::string user;  // empty: the local user's name
    std::string host;
    int port = 22;
    std::string path;  // absolute on the server ("/srv/..." or "C:/...")

    // Throws Error naming the URL (redacted) for a malformed one, a password
    // in it, or a path that is not absolute.
    static SshUrl parse(const std::string& url);
    std::string text() const;  // ssh://user@host:port/path, for messages
    bool windows_path() const;
};

using SshOptions = OpenOptions::Ssh;

class SshChannel;

class SshSession {
public:
    // Connects, checks the host key and authenticates. Throws Error with one
    // line naming the server and what to do (UnreachableHost for a server
    // that cannot be reached at all).
    SshSession(const SshUrl& url, const SshOptions& options);
    ~SshSession();
    SshSession(const SshSession&) = delete;
    SshSession& operator=(const SshSession&) = delete;

    const SshUrl& url() const { return url_; }
    // The libssh session (ssh_session), for the SFTP transport.
    void* handle() const { return session_; }
    // Runs `command` on the server; its stdin and stdout are the channel.
    std::unique_ptr<SshChannel> exec(const std::string& command);
    // Starts subsystem `name` (as "sftp") on a channel of its own.
    std::unique_ptr<SshChannel> subsystem(const std::string& name);
    // The I/O timeout the session was opened with.
    int timeout_ms() const { return timeout_ms_; }

private:
    void check_host_key(const SshOptions& options);
    void authenticate(const SshOptions& options);
    [[noreturn]] void fail(const std::string& problem) const;

    SshUrl url_;
    void* session_ = nullptr;
    int timeout_ms_ = 0;
};

// The server cannot be reached: no route, refused, timed out, not SSH.
class UnreachableHost : public Error {
public:
    using Error::Error;
};

// An exec channel: a byte stream to and from a remote command.
class SshChannel {
public:
    SshChannel(SshSession& session, void* channel, std::string command);
    ~SshChannel();
    // Reads up to `size` bytes of the command's stdout: 0 at its end,
    // nullopt when nothing came for `timeout_ms`. Throws Error when the
    // connection fails.
    std::optional<std::size_t> read(char* buffer, std::size_t size, int timeout_ms);
    // Reads what has already arrived, without waiting: 0 when nothing has
    // (or at the end). Throws Error when the connection fails.
    std::size_t read_now(char* buffer, std::size_t size);
    void write(const char* data, std::size_t size);
    // Ends the command's stdin.
    void close_input();
    // What the command wrote on stderr so far (kept for messages, bounded).
    std::string errors();
    // The exit status once the command ended (-1 if unknown).
    int exit_status();
    // Payload bytes written to and read from the command, as rsync counts them.
    std::uint64_t bytes_written() const { return written_; }
    std::uint64_t bytes_read() const { return read_; }

private:
    SshSession& session_;
    void* channel_;
    std::string command_;
    std::string errors_;
    std::uint64_t written_ = 0, read_ = 0;
};

// The command line `argv` quoted for the server's shell: POSIX sh, or
// cmd.exe for a Windows OpenSSH server. No argument can change the command
// (spaces, quotes, $(), ;, a leading -).
std::string remote_command(const std::vector<std::string>& argv, bool windows);

}  // namespace exmsync::transport
