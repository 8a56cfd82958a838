// A real OpenSSH sshd on 127.0.0.1 for one test: started by
// tools/test-sshd.sh in the test's own folder (config, keys, known_hosts,
// port), stopped by the pid it recorded. A server that cannot start fails the
// test: these tests are never skipped.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "cli/cli_support.hpp"

namespace exmsync::testing::ssh {

using cli::q;

inline const std::string kScript = std::string(EXMSYNC_SOURCE_DIR) + "/tools/test-sshd.sh";

class SshServer {
public:
    explicit SshServer(const fs::path& dir) : dir_(dir) { start(); }
    ~SshServer() { stop(); }
    SshServer(const SshServer&) = delete;
    SshServer& operator=(const SshServer&) = delete;

    void start() {
        auto r = run("bash " + shell_quote(kScript) + " start " + q(dir_));
        if (r.exit_code != 0) throw std::runtime_error("tools/test-sshd.sh start failed: " + r.out + r.err);
        env_.clear();
        std::ifstream in((dir_ / "env").string());
        for (std::string line; std::getline(in, line);) {
            auto eq = line.find('=');
            if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
            env_[line.substr(0, eq)] = line.substr(eq + 1);
        }
        if (env_["SSHD_PORT"].empty()) throw std::runtime_error("tools/test-sshd.sh wrote no SSHD_PORT");
    }

    void stop() { run("bash " + shell_quote(kScript) + " stop " + q(dir_)); }

    // The listener and every session it serves, at once: a server that
    // vanishes mid-transfer.
    void kill_all() {
        run("pkill -KILL -P " + env_.at("SSHD_PID") + "; kill -KILL " + env_.at("SSHD_PID"));
    }

    const std::string& operator[](const std::string& key) const { return env_.at(key); }
    int port() const { return std::stoi(env_.at("SSHD_PORT")); }
    const fs::path& dir() const { return dir_; }

    // ssh://user@127.0.0.1:PORT/path
    std::string url(const fs::path& path) const {
        return "ssh://" + env_.at("SSH_USER") + "@127.0.0.1:" + env_.at("SSHD_PORT") + path.string();
    }
    // The options that make exmsync trust this server and use its key.
    std::string flags() const {
        return "--known-hosts " + shell_quote(env_.at("SSH_KNOWN_HOSTS")) + " --identity " +
               shell_quote(env_.at("SSH_CLIENT_KEY"));
    }
    // The user's own ssh, configured for this server under the alias
    // exmsync-test: for --rsh.
    std::string rsh() const { return "ssh -F " + env_.at("SSH_CONFIG"); }

private:
    fs::path dir_;
    std::map<std::string, std::string> env_;
};

// How a test reaches the server: the three modes of an ssh:// target.
enum class Mode { Agent, Sftp, Rsh };

inline const char* mode_name(Mode m) {
    switch (m) {
        case Mode::Agent: return "agent";
        case Mode::Sftp: return "sftp";
        case Mode::Rsh: return "rsh";
    }
    return "?";
}

// The URL and options for `path` on `server` in mode `m`.
inline std::string target_args(const SshServer& server, const fs::path& path, Mode m) {
    switch (m) {
        case Mode::Agent:
            return shell_quote(server.url(path)) + " " + server.flags() + " --remote-exmsync " + q(cli::kExmsync);
        case Mode::Sftp: return shell_quote(server.url(path)) + " " + server.flags() + " --no-agent";
        case Mode::Rsh:
            return shell_quote("ssh://exmsync-test" + path.string()) + " --rsh " + shell_quote(server.rsh()) +
                   " --remote-exmsync " + q(cli::kExmsync);
    }
    return {};
}

using cli::rsync_differences;

}  // namespace exmsync::testing::ssh
