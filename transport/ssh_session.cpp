#include "transport/ssh_session.hpp"

#include <libssh/libssh.h>

#include <algorithm>
#include <chrono>
#include <boost/filesystem/operations.hpp>
#include <cstdlib>

namespace exmsync::transport {
namespace {

ssh_session as_session(void* p) { return static_cast<ssh_session>(p); }
ssh_channel as_channel(void* p) { return static_cast<ssh_channel>(p); }

std::string home() {
    const char* h = std::getenv("HOME");
    return h && *h ? h : "/root";
}

std::string local_user() {
    const char* u = std::getenv("USER");
    if (u && *u) return u;
    const char* l = std::getenv("LOGNAME");
    return l && *l ? l : "root";
}

std::string sha256_of(ssh_key key) {
    unsigned char* hash = nullptr;
    size_t length = 0;
    if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &length) != 0) return "SHA256:?";
    char* text = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, length);
    ssh_clean_pubkey_hash(&hash);
    std::string out = text ? text : "SHA256:?";
    ssh_string_free_char(text);
    return out;
}

}  // namespace

// ---- the session ----

SshSession::SshSession(const SshUrl& url, const SshOptions& options) : url_(url), session_(ssh_new()) {
    if (!session_) throw Error("target " + url_.text() + ": cannot start libssh (out of memory)");
    ssh_session s = as_session(session_);
    // libssh would read ~/.ssh/config and /etc/ssh/ssh_config: a setting
    // there (StrictHostKeyChecking no, another known_hosts) must change nothing.
    int no = 0;
    ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no);
    ssh_options_set(s, SSH_OPTIONS_HOST, url_.host.c_str());
    ssh_options_set(s, SSH_OPTIONS_PORT, &url_.port);
    std::string user = url_.user.empty() ? local_user() : url_.user;
    ssh_options_set(s, SSH_OPTIONS_USER, user.c_str());
    long timeout = options.timeout_seconds;
    timeout_ms_ = static_cast<int>(options.timeout_seconds) * 1000;
    ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &timeout);
    // Request and reply, one at a time: Nagle's algorithm would hold each
    // small request back until the last reply's ACK (up to 40 ms apiece).
    int nodelay = 1;
    ssh_options_set(s, SSH_OPTIONS_NODELAY, &nodelay);
    std::string known = options.known_hosts.empty() ? home() + "/.ssh/known_hosts" : options.known_hosts;
    ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, known.c_str());
    ssh_options_set(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, known.c_str());  // that file and no other
    if (ssh_connect(s) != SSH_OK) {
        std::string why = ssh_get_error(s);
        ssh_free(s);
        session_ = nullptr;
        throw UnreachableHost("target " + url_.text() + ": cannot connect (" + why +
                              "); check the host, the port and that sshd runs there");
    }
    try {
        check_host_key(options);
        authenticate(options);
    } catch (...) {
        ssh_disconnect(s);
        ssh_free(s);
        session_ = nullptr;
        throw;
    }
}

SshSession::~SshSession() {
    if (!session_) return;
    ssh_disconnect(as_session(session_));
    ssh_free(as_session(session_));
}

void SshSession::fail(const std::string& problem) const { throw Error("target " + url_.text() + ": " + problem); }

void SshSession::check_host_key(const SshOptions& options) {
    ssh_session s = as_session(session_);
    ssh_key key = nullptr;
    if (ssh_get_server_publickey(s, &key) != SSH_OK) fail("the server sent no host key");
    std::string fingerprint = sha256_of(key);
    ssh_key_free(key);
    std::string known = options.known_hosts.empty() ? home() + "/.ssh/known_hosts" : options.known_hosts;
    std::string name = url_.port == 22 ? url_.host : "[" + url_.host + "]:" + std::to_string(url_.port);
    if (!options.host_key.empty()) {
        if (fingerprint != options.host_key)
            fail("the host key is " + fingerprint + ", not the pinned " + options.host_key +
                 "; if the server's key really changed, pin the new one");
        return;  // a pin is the whole check
    }
    switch (ssh_session_is_known_server(s)) {
        case SSH_KNOWN_HOSTS_OK: return;
        case SSH_KNOWN_HOSTS_CHANGED:
        case SSH_KNOWN_HOSTS_OTHER:
            fail("the host key changed: it is now " + fingerprint + ", which " + known +
                 " does not list for " + name + "; if the server was really rebuilt, remove the old key with "
                 "ssh-keygen -R '" + name + "' -f " + known + " and connect again, otherwise do not");
        case SSH_KNOWN_HOSTS_NOT_FOUND:
        case SSH_KNOWN_HOSTS_UNKNOWN:
            if (options.accept_new_host_key) {
                if (ssh_session_update_known_hosts(s) != SSH_OK)
                    fail("cannot record its host key in " + known + ": " + ssh_get_error(s));
                return;
            }
            fail("unknown host key " + fingerprint + " (not in " + known + "); check it with the server's "
                 "administrator, then add it (ssh-keyscan -p " + std::to_string(url_.port) + " " + url_.host +
                 " >> " + known + "), pin it with --host-key, or pass --accept-new-host-key");
        case SSH_KNOWN_HOSTS_ERROR: fail(std::string("cannot check the host key: ") + ssh_get_error(s));
    }
}

void SshSession::authenticate(const SshOptions& options) {
    ssh_session s = as_session(session_);
    std::vector<std::string> tried;
    if (options.identities.empty() && std::getenv("SSH_AUTH_SOCK")) {
        tried.push_back("the ssh-agent");
        if (ssh_userauth_agent(s, nullptr) == SSH_AUTH_SUCCESS) return;
    }
    std::vector<std::string> files = options.identities;
    if (files.empty())
        for (const char* name : {"id_ed25519", "id_ecdsa", "id_rsa"}) files.push_back(home() + "/.ssh/" + name);
    for (const auto& file : files) {
        boost::system::error_code ec;
        if (!boost::filesystem::exists(file, ec)) {
            if (!options.identities.empty()) fail("identity file " + file + " does not exist");
            continue;
        }
        ssh_key key = nullptr;
        if (ssh_pki_import_privkey_file(file.c_str(), nullptr, nullptr, nullptr, &key) != SSH_OK) {
            tried.push_back(file + " (unreadable, or protected by a passphrase: load it into the ssh-agent)");
            continue;
        }
        tried.push_back(file);
        int rc = ssh_userauth_publickey(s, nullptr, key);
        ssh_key_free(key);
        if (rc == SSH_AUTH_SUCCESS) return;
    }
    std::string list;
    for (const auto& t : tried) list += (list.empty() ? "" : ", ") + t;
    std::string user = url_.user.empty() ? local_user() : url_.user;
    fail("the server refused every key for " + user + " (tried " + (list.empty() ? "none: no agent, no key files" : list) +
         "); add the public key to that user's authorized_keys, or name the key with --identity");
}

std::unique_ptr<SshChannel> SshSession::exec(const std::string& command) {
    ssh_session s = as_session(session_);
    ssh_channel channel = ssh_channel_new(s);
    if (!channel) fail(std::string("cannot open a channel: ") + ssh_get_error(s));
    if (ssh_channel_open_session(channel) != SSH_OK || ssh_channel_request_exec(channel, command.c_str()) != SSH_OK) {
        std::string why = ssh_get_error(s);
        ssh_channel_free(channel);
        fail("cannot run a command: " + why);
    }
    return std::make_unique<SshChannel>(*this, channel, command);
}

std::unique_ptr<SshChannel> SshSession::subsystem(const std::string& name) {
    ssh_session s = as_session(session_);
    ssh_channel channel = ssh_channel_new(s);
    if (!channel) fail(std::string("cannot open a channel: ") + ssh_get_error(s));
    if (ssh_channel_open_session(channel) != SSH_OK ||
        ssh_channel_request_subsystem(channel, name.c_str()) != SSH_OK) {
        std::string why = ssh_get_error(s);
        ssh_channel_free(channel);
        fail("cannot start the " + name + " subsystem: " + why);
    }
    return std::make_unique<SshChannel>(*this, channel, "subsystem " + name);
}

// ---- a channel ----

SshChannel::SshChannel(SshSession& session, void* channel, std::string command)
    : session_(session), channel_(channel), command_(std::move(command)) {}

SshChannel::~SshChannel() {
    ssh_channel c = as_channel(channel_);
    ssh_channel_close(c);
    ssh_channel_free(c);
}

std::optional<std::size_t> SshChannel::read(char* buffer, std::size_t size, int timeout_ms) {
    ssh_channel c = as_channel(channel_);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (true) {
        int n = ssh_channel_read_timeout(c, buffer, static_cast<uint32_t>(size), 0, 200);
        if (n > 0) {
            read_ += static_cast<std::uint64_t>(n);
            return static_cast<std::size_t>(n);
        }
        if (n == SSH_ERROR)
            throw Error("target " + session_.url().text() + ": the connection failed: " +
                        ssh_get_error(as_session(session_.handle())));
        // Keep what the command says on stderr, for the message if it fails.
        char err[4096];
        int e = ssh_channel_read_nonblocking(c, err, sizeof err, 1);
        if (e > 0 && errors_.size() < 16384) errors_.append(err, static_cast<std::size_t>(e));
        if (ssh_channel_is_eof(c) || !ssh_channel_is_open(c)) return 0;
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    }
}

std::size_t SshChannel::read_now(char* buffer, std::size_t size) {
    int n = ssh_channel_read_nonblocking(as_channel(channel_), buffer, static_cast<uint32_t>(size), 0);
    if (n == SSH_ERROR)
        throw Error("target " + session_.url().text() + ": the connection failed: " +
                    ssh_get_error(as_session(session_.handle())));
    read_ += static_cast<std::uint64_t>(std::max(n, 0));
    return static_cast<std::size_t>(std::max(n, 0));
}

void SshChannel::write(const char* data, std::size_t size) {
    ssh_channel c = as_channel(channel_);
    while (size > 0) {
        int n = ssh_channel_write(c, data, static_cast<uint32_t>(std::min<std::size_t>(size, 1u << 20)));
        if (n == SSH_ERROR)
            throw Error("target " + session_.url().text() + ": the connection failed: " +
                        ssh_get_error(as_session(session_.handle())));
        data += n;
        size -= static_cast<std::size_t>(n);
        written_ += static_cast<std::uint64_t>(n);
    }
}

void SshChannel::close_input() { ssh_channel_send_eof(as_channel(channel_)); }

std::string SshChannel::errors() {
    ssh_channel c = as_channel(channel_);
    char err[4096];
    int e;
    while ((e = ssh_channel_read_nonblocking(c, err, sizeof err, 1)) > 0 && errors_.size() < 16384)
        errors_.append(err, static_cast<std::size_t>(e));
    return errors_;
}

int SshChannel::exit_status() { return ssh_channel_get_exit_status(as_channel(channel_)); }

}  // namespace exmsync::transport
