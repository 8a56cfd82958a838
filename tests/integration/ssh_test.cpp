// ssh:// targets against a real OpenSSH sshd on 127.0.0.1, in the three ways
// a target is reached: the agent over libssh, agentless SFTP, and the agent
// through the user's own ssh (--rsh). After every push, rsync -rcn --delete
// must find nothing between source and target.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "integration/ssh_server.hpp"
#include "integration/written_not_read_back.hpp"

using namespace exmsync::testing;
using namespace exmsync::testing::cli;
using namespace exmsync::testing::ssh;
using nlohmann::json;

namespace {

json parse(const CommandResult& r) {
    auto j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out << r.err;
    return j;
}

std::uint64_t tree_bytes(const fs::path& root) {
    std::uint64_t total = 0;
    for (fs::recursive_directory_iterator it(root), end; it != end; ++it)
        if (fs::is_regular_file(it->path())) total += fs::file_size(it->path());
    return total;
}

class SshModes : public ::testing::TestWithParam<Mode> {
protected:
    void SetUp() override {
        server = std::make_unique<SshServer>(dir / "sshd");
        TreeMaker(7).make(src, 30);
        fs::create_directories(target);
    }

    std::string where() const { return target_args(*server, target, GetParam()); }
    CommandResult push(const std::string& extra = "") { return cli_run("push " + q(src) + " " + where() + " " + extra); }
    std::string expected_mode() const { return GetParam() == Mode::Sftp ? "sftp" : "agent"; }

    TempDir dir;
    std::unique_ptr<SshServer> server;
    fs::path src = dir / "src", target = dir / "target";
};

TEST_P(SshModes, InitialNoOpChangeAndTheTargetCommands) {
    auto first = push("--json");
    ASSERT_EQ(first.exit_code, 0) << first.err;
    auto j = parse(first)["targets"][0];
    EXPECT_EQ(j["status"], "updated") << j;
    EXPECT_EQ(j["mode"], expected_mode()) << j;
    EXPECT_EQ(rsync_differences(src, target), "");
    EXPECT_TRUE(fs::exists(target / ".exmsync/current"));

    // No-op: one root compared; for the agent, nothing of the tree moves.
    auto again = push("--json");
    ASSERT_EQ(again.exit_code, 0) << again.err;
    j = parse(again)["targets"][0];
    EXPECT_EQ(j["status"], "in_sync") << j;
    if (expected_mode() == "agent") {
        EXPECT_LT(j["bytes_sent"].get<std::uint64_t>(), 2048u) << j;
        EXPECT_LT(j["bytes_received"].get<std::uint64_t>(), 2048u) << j;
    }

    // Writes, deletes, renames, a file becoming a folder and back.
    TreeMaker(7).mutate(src);
    auto diff = cli_run("diff " + q(src) + " " + where());
    EXPECT_EQ(diff.exit_code, 1) << diff.err;
    EXPECT_NE(diff.out.find("R  "), std::string::npos) << diff.out;
    auto changed = push("--json");
    ASSERT_EQ(changed.exit_code, 0) << changed.err;
    j = parse(changed)["targets"][0];
    EXPECT_EQ(j["status"], "updated") << j;
    EXPECT_GT(j["counts"]["renames"].get<int>(), 0) << j;
    EXPECT_GT(j["counts"]["deletes"].get<int>(), 0) << j;
    EXPECT_EQ(rsync_differences(src, target), "");
    if (expected_mode() == "agent") {
        // One compressed archive of the change, not the tree.
        EXPECT_LT(j["bytes_sent"].get<std::uint64_t>(), tree_bytes(src) / 2) << j;
    }
    EXPECT_EQ(cli_run("diff " + q(src) + " " + where()).exit_code, 0);

    // history, rollback and recover reach the target the same way.
    auto history = cli_run("history --json " + where());
    ASSERT_EQ(history.exit_code, 0) << history.err;
    auto applies = parse(history)["applies"];
    ASSERT_EQ(applies.size(), 3u) << applies;
    std::string first_apply = applies[1]["apply_id"];
    auto preview = cli_run("rollback " + where() + " --to " + first_apply + " --dry-run");
    ASSERT_EQ(preview.exit_code, 0) << preview.err;
    EXPECT_NE(preview.out.find("would write"), std::string::npos) << preview.out;
    EXPECT_EQ(rsync_differences(src, target), "") << "a dry run changed the target";
    auto rolled = cli_run("rollback " + where() + " --to " + first_apply);
    ASSERT_EQ(rolled.exit_code, 0) << rolled.err;
    TempDir before;
    TreeMaker(7).make(before.path(), 30);
    EXPECT_EQ(rsync_differences(before.path(), target), "");
    auto recovered = cli_run("recover " + where());
    EXPECT_EQ(recovered.exit_code, 0) << recovered.err;
    EXPECT_NE(recovered.out.find("nothing to recover"), std::string::npos) << recovered.out;
    EXPECT_EQ(leftovers(target), "");
}

// `exmsync apply ARCHIVE ssh://...` ships a packed archive.
TEST_P(SshModes, ApplyShipsAnArchive) {
    ASSERT_EQ(push().exit_code, 0);
    TreeMaker(7).mutate(src);
    fs::path archive = dir / "change.tar.zst";
    auto packed = cli_run("pack " + q(src) + " --base " + q(target) + " -o " + q(archive));
    ASSERT_EQ(packed.exit_code, 0) << packed.err;
    auto applied = cli_run("apply " + q(archive) + " " + where());
    ASSERT_EQ(applied.exit_code, 0) << applied.err;
    EXPECT_EQ(rsync_differences(src, target), "");
    // A second apply finds it done; the archive from stdin works too.
    auto replayed = cli_run("apply - " + where() + " < " + q(archive));
    ASSERT_EQ(replayed.exit_code, 0) << replayed.err;
    EXPECT_NE(replayed.out.find("already holds changeset"), std::string::npos) << replayed.out;
}

// An edit on the target that kept the size and the mtime (to the second, all
// SFTP shows) is found by --verify full, which hashes every file. Over SFTP,
// with no inode or ctime to give it away, the stat check cannot see it.
TEST_P(SshModes, VerifyFullFindsAnEditThatKeptSizeAndMtime) {
    // Old mtimes, out of the window in which a stat cache trusts nothing;
    // the second push records the files pushed by the first in the cache.
    ASSERT_EQ(run("find " + q(src) + " -type f -exec touch -d 2024-01-01T12:00:00 {} +").exit_code, 0);
    ASSERT_EQ(push().exit_code, 0);
    ASSERT_EQ(push().exit_code, 0);
    fs::path edited;
    for (fs::recursive_directory_iterator it(target), end; it != end; ++it) {
        if (it->path().filename() == ".exmsync") it.disable_recursion_pending();
        else if (fs::is_regular_file(it->path()) && fs::file_size(it->path()) > 0) {
            edited = it->path();
            break;
        }
    }
    ASSERT_FALSE(edited.empty());
    auto r = run("f=" + q(edited) + "; cp -p \"$f\" \"$f.ref\" && tr '\\000-\\377' '\\001-\\377\\000' <\"$f.ref\" >\"$f\" && "
                 "touch -r \"$f.ref\" \"$f\" && rm \"$f.ref\"");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_NE(rsync_differences(src, target), "");
    std::string name = fs::relative(edited, target).generic_string();

    auto quick = cli_run("diff " + q(src) + " " + where());
    if (GetParam() == Mode::Sftp) {
        EXPECT_EQ(quick.exit_code, 0) << quick.out << quick.err;
    }
    auto full = cli_run("diff --verify full " + q(src) + " " + where());
    EXPECT_EQ(full.exit_code, 1) << full.out << full.err;
    EXPECT_NE(full.out.find(name), std::string::npos) << full.out;

    auto pushed = cli_run("push --verify full " + q(src) + " " + where());
    EXPECT_EQ(pushed.exit_code, 0) << pushed.err;
    EXPECT_EQ(rsync_differences(src, target), "");
    EXPECT_EQ(leftovers(target), "");
}

INSTANTIATE_TEST_SUITE_P(Ssh, SshModes, ::testing::Values(Mode::Agent, Mode::Sftp, Mode::Rsh),
                         [](const auto& info) { return std::string(mode_name(info.param)); });

// Agentless, what a push wrote is not read back by the next
// (written_not_read_back.hpp); SFTP keeps the mtimes to the second.
TEST(SftpStatCache, FilesAPushWroteAreNotReadBack) {
    TempDir dir;
    SshServer server(dir / "sshd");
    fs::path src = dir / "src", target = dir / "target";
    TreeMaker(7).make(src, 30);
    fs::create_directories(target);
    expect_written_files_not_read_back(src, target, [&](const std::string& verb, const std::string& extra) {
        return cli_run(verb + " " + q(src) + " " + target_args(server, target, Mode::Sftp) + " " + extra);
    });
}

// With neither --no-agent nor --remote-exmsync, the target says which way
// it was reached and why.
TEST(SshAuto, SaysWhichModeAndWhy) {
    TempDir dir;
    SshServer server(dir / "sshd");
    TreeMaker(3).make(dir / "src");
    fs::create_directories(dir / "target");
    auto r = cli_run("push " + q(dir / "src") + " " + shell_quote(server.url(dir / "target")) + " " + server.flags());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // The server's PATH decides: this machine may have exmsync installed.
    bool installed = run("command -v exmsync").exit_code == 0;
    if (installed)
        EXPECT_NE(r.err.find("agent mode (exmsync "), std::string::npos) << r.err;
    else
        EXPECT_NE(r.err.find("agentless (SFTP): no exmsync agent answered"), std::string::npos) << r.err;
    EXPECT_EQ(rsync_differences(dir / "src", dir / "target"), "");
}

// ---- refusals: each before anything is written ----

class SshRefusals : public ::testing::Test {
protected:
    void SetUp() override {
        server = std::make_unique<SshServer>(dir / "sshd");
        TreeMaker(5).make(src);
        fs::create_directories(target);
    }

    // Pushes with `args` after the source; must fail, leave the target
    // untouched, and say every one of `expected`.
    void expect_refused(const std::string& args, const std::vector<std::string>& expected) {
        auto r = cli_run("push " + q(src) + " " + args);
        EXPECT_EQ(r.exit_code, 1) << args << "\n" << r.out << r.err;
        for (const auto& e : expected) EXPECT_NE(r.err.find(e), std::string::npos) << "no '" << e << "' in " << r.err;
        EXPECT_TRUE(fs::is_empty(target)) << "something was written for: " << args;
    }

    std::string url() const { return shell_quote(server->url(target)); }

    TempDir dir;
    std::unique_ptr<SshServer> server;
    fs::path src = dir / "src", target = dir / "target";
};

TEST_F(SshRefusals, UnknownHostKey) {
    write_file(dir / "empty_known_hosts", "");
    expect_refused(url() + " --known-hosts " + q(dir / "empty_known_hosts") + " --identity " +
                       q((*server)["SSH_CLIENT_KEY"]),
                   {"unknown host key " + (*server)["SSHD_HOST_KEY_FP"], "--accept-new-host-key", "ssh-keyscan"});
}

TEST_F(SshRefusals, ChangedHostKey) {
    auto keygen = run("ssh-keygen -q -t ed25519 -N '' -f " + q(dir / "other") + " </dev/null");
    ASSERT_EQ(keygen.exit_code, 0) << keygen.err;
    std::string pub = read_file(dir / "other.pub");
    write_file(dir / "changed_known_hosts",
               "[127.0.0.1]:" + (*server)["SSHD_PORT"] + " " + pub.substr(0, pub.rfind(' ')) + "\n");
    expect_refused(url() + " --known-hosts " + q(dir / "changed_known_hosts") + " --identity " +
                       q((*server)["SSH_CLIENT_KEY"]),
                   {"the host key changed", (*server)["SSHD_HOST_KEY_FP"], "ssh-keygen -R"});
}

TEST_F(SshRefusals, WrongPinnedFingerprint) {
    expect_refused(url() + " " + server->flags() + " --host-key SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                   {"not the pinned SHA256:AAAA"});
    // The right pin is enough on its own, with no known_hosts at all.
    write_file(dir / "empty_known_hosts", "");
    auto r = cli_run("push " + q(src) + " " + url() + " --known-hosts " + q(dir / "empty_known_hosts") +
                     " --identity " + q((*server)["SSH_CLIENT_KEY"]) + " --host-key " +
                     (*server)["SSHD_HOST_KEY_FP"]);
    EXPECT_EQ(r.exit_code, 0) << r.err;
}

// The user's ssh config saying "StrictHostKeyChecking no" changes nothing:
// libssh is told not to read it.
TEST_F(SshRefusals, UserSshConfigDoesNotWeakenHostKeys) {
    fs::path home = dir / "home";
    write_file(home / ".ssh/config", "Host *\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n");
    write_file(home / ".ssh/known_hosts", "");
    auto refused = run("HOME=" + q(home) + " " + shell_quote(kExmsync) + " push " + q(src) + " " + url() +
                       " --identity " + q((*server)["SSH_CLIENT_KEY"]));
    EXPECT_EQ(refused.exit_code, 1) << refused.out << refused.err;
    EXPECT_NE(refused.err.find("unknown host key"), std::string::npos) << refused.err;
    EXPECT_NE(refused.err.find(home.string() + "/.ssh/known_hosts"), std::string::npos) << refused.err;
    EXPECT_TRUE(fs::is_empty(target));
    EXPECT_EQ(read_file(home / ".ssh/known_hosts"), "") << "an unknown key was recorded without being asked";
}

TEST_F(SshRefusals, RejectedKey) {
    auto keygen = run("ssh-keygen -q -t ed25519 -N '' -f " + q(dir / "stranger") + " </dev/null");
    ASSERT_EQ(keygen.exit_code, 0) << keygen.err;
    expect_refused(url() + " --known-hosts " + q((*server)["SSH_KNOWN_HOSTS"]) + " --identity " +
                       q(dir / "stranger"),
                   {"refused every key", "authorized_keys", "--identity"});
}

TEST_F(SshRefusals, ClosedPort) {
    server->stop();
    expect_refused(url() + " " + server->flags(), {"cannot connect", "check the host, the port"});
}

TEST_F(SshRefusals, MissingPathInEveryMode) {
    fs::path missing = dir / "no-such-folder";
    for (Mode m : {Mode::Agent, Mode::Sftp, Mode::Rsh}) {
        auto r = cli_run("push " + q(src) + " " + target_args(*server, missing, m));
        EXPECT_EQ(r.exit_code, 1) << mode_name(m) << ": " << r.err;
        EXPECT_NE(r.err.find("does not exist"), std::string::npos) << mode_name(m) << ": " << r.err;
        EXPECT_FALSE(fs::exists(missing)) << mode_name(m);
    }
}

// A path that a shell would read as commands is only ever a path.
TEST_F(SshRefusals, HostilePathRunsNothing) {
    fs::path marker = dir / "marker";
    for (const std::string& hostile :
         {"/tmp/x$(touch " + marker.string() + ")", "/tmp/x;touch " + marker.string(),
          "/tmp/x`touch " + marker.string() + "`", "/tmp/x' ; touch " + marker.string() + " ; '",
          "/tmp/x\"; touch " + marker.string() + "; \"", "/tmp/x | touch " + marker.string()}) {
        for (Mode m : {Mode::Agent, Mode::Rsh}) {
            auto r = cli_run("push " + q(src) + " " + target_args(*server, hostile, m));
            EXPECT_NE(r.exit_code, 0) << hostile;
            EXPECT_FALSE(fs::exists(marker)) << mode_name(m) << " ran a command from the path " << hostile;
        }
    }
    // A path starting with '-' is not an option to the remote exmsync.
    auto r = cli_run("push " + q(src) + " " + target_args(*server, "/--help", Mode::Agent));
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
}

}  // namespace
