// A server that vanishes halfway: sshd (with every session it serves) killed
// while a push streams its files and while it commits, in the agent mode and
// in the agentless SFTP mode. Afterwards the target is old or new, or holds
// the journal that finishes or undoes the commit; the next push, once the
// server is back, completes the change; rsync then finds no difference.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <random>
#include <thread>

#include "integration/ssh_server.hpp"
#include "support/polling.hpp"
#include "support/tree_root.hpp"

using namespace exmsync::testing;
using namespace exmsync::testing::cli;
using namespace exmsync::testing::ssh;

namespace {

class SshFaults : public ::testing::TestWithParam<Mode> {
protected:
    void SetUp() override {
        server = std::make_unique<SshServer>(dir / "sshd");
        TreeMaker(11).make(src);
        fs::create_directories(target);
        auto first = push();
        ASSERT_EQ(first.exit_code, 0) << first.err;
    }

    CommandResult push() { return cli_run("push " + q(src) + " " + target_args(*server, target, GetParam())); }

    // A change big enough to be caught in the middle: many new files, and
    // one that does not compress.
    void change_source(int round) {
        if (!mutated) TreeMaker(100 + round).mutate(src);  // once: it reshapes what make() made
        mutated = true;
        for (int i = 0; i < 1500; ++i)
            write_file(src / ("bulk" + std::to_string(round)) / std::to_string(i % 20) / (std::to_string(i) + ".html"),
                       "<html>" + std::to_string(i * round) + "</html>");
        std::string noise(2 << 20, '\0');
        std::mt19937_64 rng(round);
        for (char& c : noise) c = static_cast<char>(rng());
        write_file(src / "noise.bin", noise);
    }

    // No agent of this target still running (one whose sshd died finishes
    // its commit on its own, then ends). "[a]gent" keeps pgrep from finding
    // the shell that runs it, whose command line holds the pattern too.
    bool agent_gone() {
        return run("pgrep -f -- " + shell_quote("[a]gent --root=" + target.string())).exit_code != 0;
    }

    // Pushes in the background, kills the server when `moment` comes, and
    // checks what is left; then the next push must complete. A push that
    // ended before the moment came (a busy machine let it pass) is checked
    // as done, and the kill is tried again on a further change.
    template <typename Moment>
    void kill_when(Moment&& moment, const std::string& what) {
        auto old_root = tree_root(target);
        auto new_root = tree_root(src);
        auto pushing = std::async(std::launch::async, [&] { return push(); });
        for (int missed = 0;; ++missed) {
            const Waited waited = wait_for_moment(moment, pushing);
            if (waited == Waited::Came) break;
            if (waited == Waited::TimedOut) {
                server->kill_all();
                auto hung = pushing.get();
                FAIL() << what << ": in a minute the push neither ended nor reached the moment: " << hung.err;
            }
            auto done = pushing.get();
            ASSERT_EQ(done.exit_code, 0) << what << ": " << done.err;
            ASSERT_EQ(tree_root(target), new_root) << what;
            ASSERT_LT(missed, 4) << what << ": the moment never came in 5 pushes";
            change_source(50 + extra_rounds++);
            old_root = new_root;
            new_root = tree_root(src);
            pushing = std::async(std::launch::async, [&] { return push(); });
        }
        server->kill_all();
        auto cut = pushing.get();
        ASSERT_TRUE(wait_for([&] { return agent_gone(); })) << what << ": the agent did not end";

        auto root = tree_root(target);
        bool journaled = fs::exists(target / ".exmsync/journal");
        EXPECT_TRUE(root == old_root || root == new_root || journaled)
            << what << ": a mix of old and new with no journal to recover it";
        if (cut.exit_code == 0) {
            EXPECT_EQ(root, new_root) << what << ": reported done but not new";
        }

        server->start();  // a new port: the same server, back
        auto next = push();
        EXPECT_EQ(next.exit_code, 0) << what << ": the next push failed: " << next.err;
        EXPECT_EQ(rsync_differences(src, target), "") << what;
        EXPECT_EQ(leftovers(target), "") << what;
    }

    TempDir dir;
    bool mutated = false;
    int extra_rounds = 0;
    std::unique_ptr<SshServer> server;
    fs::path src = dir / "src", target = dir / "target";
};

// Early, midway and late in the stream of files (staged files stand for the
// offset reached in the archive or in the SFTP uploads).
TEST_P(SshFaults, ServerKilledWhileFilesAreSent) {
    int round = 0;
    for (std::size_t staged : {20, 700, 1400}) {
        change_source(++round);
        kill_when([&] { return count_files(target / ".exmsync/staging") >= staged; },
                  "killed after " + std::to_string(staged) + " staged files");
    }
}

TEST_P(SshFaults, ServerKilledDuringTheCommit) {
    change_source(9);
    kill_when([&] { return fs::exists(target / ".exmsync/journal"); }, "killed during the commit");
}

INSTANTIATE_TEST_SUITE_P(Ssh, SshFaults, ::testing::Values(Mode::Agent, Mode::Sftp),
                         [](const auto& info) { return std::string(mode_name(info.param)); });

}  // namespace
