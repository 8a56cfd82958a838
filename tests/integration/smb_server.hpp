// A real Samba smbd on 127.0.0.1 for one test: started by tools/test-smbd.sh
// in the test's own folder (smb.conf, passdb, a new password, a free port),
// stopped by the pid it recorded. A server that cannot start fails the test:
// these tests are never skipped.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <string>

#include "cli/cli_support.hpp"

namespace exmsync::testing::smb {

using cli::q;

inline const std::string kScript = std::string(EXMSYNC_SOURCE_DIR) + "/tools/test-smbd.sh";

class SmbServer {
public:
    // `environment` goes before the script (TEST_SMBD_ENCRYPTION=off).
    explicit SmbServer(const fs::path& dir, std::string environment = "")
        : dir_(dir), environment_(std::move(environment)) {
        start();
    }
    ~SmbServer() { stop(); }
    SmbServer(const SmbServer&) = delete;
    SmbServer& operator=(const SmbServer&) = delete;

    void start() {
        auto r = run(environment_ + " bash " + shell_quote(kScript) + " start " + q(dir_));
        if (r.exit_code != 0) throw std::runtime_error("tools/test-smbd.sh start failed: " + r.out + r.err);
        env_.clear();
        std::ifstream in((dir_ / "env").string());
        for (std::string line; std::getline(in, line);) {
            auto eq = line.find('=');
            if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
            env_[line.substr(0, eq)] = line.substr(eq + 1);
        }
        if (env_["SMBD_PORT"].empty()) throw std::runtime_error("tools/test-smbd.sh wrote no SMBD_PORT");
    }

    void stop() { run("bash " + shell_quote(kScript) + " stop " + q(dir_)); }

    // smbd and every connection it serves, at once.
    void kill_all() {
        run("pkill -KILL -g " + env_.at("SMBD_PID") + "; kill -KILL " + env_.at("SMBD_PID"));
    }

    const std::string& operator[](const std::string& key) const { return env_.at(key); }
    const fs::path& dir() const { return dir_; }
    // The folder on disk that share `share` serves.
    fs::path share_dir(const std::string& share) const { return fs::path(env_.at("SMB_SHARES_DIR")) / share; }
    std::string password() const {
        std::string p = read_file(env_.at("SMB_PASSWORD_FILE"));
        while (!p.empty() && (p.back() == '\n' || p.back() == '\r')) p.pop_back();
        return p;
    }

    // smb://exmsynctest@127.0.0.1:PORT/share/folder
    std::string url(const std::string& share, const std::string& folder = "") const {
        return "smb://" + env_.at("SMB_USER") + "@127.0.0.1:" + env_.at("SMBD_PORT") + "/" + share +
               (folder.empty() ? "" : "/" + folder);
    }
    // The option that gives exmsync the password.
    std::string flags() const { return "--smb-credentials " + shell_quote(env_.at("SMB_CREDENTIALS")); }

    // The sessions smbd holds now, as smbstatus shows them.
    std::string sessions() const {
        return run("smbstatus -s " + q(env_.at("SMB_CONF")) + " -b 2>&1").out;
    }
    std::string log() const { return read_file(dir_ / "log" / "log.smbd"); }

private:
    fs::path dir_;
    std::string environment_;
    std::map<std::string, std::string> env_;
};

// A folder made on the share's disk, owned by the account smbd writes as.
inline void make_share_folder(const SmbServer& server, const std::string& share, const std::string& folder) {
    fs::path p = server.share_dir(share) / folder;
    fs::create_directories(p);
    run("chown -R exmsynctest: " + q(server.share_dir(share)));
}

using cli::rsync_differences;

}  // namespace exmsync::testing::smb
