// An SMB server that vanishes halfway: smbd (with every connection it serves)
// killed while a push uploads its files and while it commits. Afterwards the
// share's folder is old or new, or holds the journal that finishes or undoes
// the commit; `exmsync recover` alone, once the server is back, leaves it old
// or new with a clean state folder, and the next push completes the change.
#include <gtest/gtest.h>

#include <future>

#include "integration/smb_server.hpp"
#include "support/polling.hpp"
#include "support/tree_root.hpp"

using namespace exmsync::testing;
using namespace exmsync::testing::cli;
using namespace exmsync::testing::smb;

namespace {

class SmbFaults : public ::testing::Test {
protected:
    void SetUp() override {
        server = std::make_unique<SmbServer>(dir / "smbd");
        make_share_folder(*server, "sync", "site");
        TreeMaker(11).make(src, 30);
        auto first = push();
        ASSERT_EQ(first.exit_code, 0) << first.err;
    }

    std::string where() const { return shell_quote(server->url("sync", "site")) + " " + server->flags(); }
    CommandResult push() { return cli_run("push " + q(src) + " " + where()); }
    fs::path on_disk() const { return server->share_dir("sync") / "site"; }

    // A change big enough to be caught in the middle: many new files (each
    // costs several SMB round trips to stage and to commit).
    void change_source(int round) {
        if (!mutated) TreeMaker(100 + round).mutate(src);  // once: it reshapes what make() made
        mutated = true;
        for (int i = 0; i < 1200; ++i)
            write_file(src / ("bulk" + std::to_string(round)) / std::to_string(i % 20) / (std::to_string(i) + ".html"),
                       "<html>" + std::to_string(i * round) + "</html>");
    }

    // Pushes in the background, kills smbd when `moment` comes, and checks
    // what is left; then recover, then the next push must complete. A push
    // that ended before the moment came (a busy machine let it pass) is
    // checked as done, and the kill is tried again on a further change; so
    // is one that the kill reached only after its last request.
    template <typename Moment>
    void kill_when(Moment&& moment, const std::string& what) {
        auto old_root = tree_root(on_disk());
        auto new_root = tree_root(src);
        auto pushing = std::async(std::launch::async, [&] { return push(); });
        for (int missed = 0;; ++missed) {
            const Waited waited = wait_for_moment(moment, pushing);
            const bool came = waited == Waited::Came;
            if (waited != Waited::Ended) server->kill_all();
            auto cut = pushing.get();
            if (waited == Waited::TimedOut)
                FAIL() << what << ": in a minute the push neither ended nor reached the moment: " << cut.err;
            if (cut.exit_code != 0) {
                ASSERT_TRUE(came) << what << ": the push failed on its own: " << cut.err;
                EXPECT_NE(cut.err.find(server->url("sync", "site")), std::string::npos)
                    << what << ": the error does not name the target: " << cut.err;
                break;
            }
            ASSERT_EQ(tree_root(on_disk()), new_root) << what << ": reported done but not new";
            ASSERT_FALSE(fs::exists(on_disk() / ".exmsync/journal")) << what << ": reported done with a journal";
            ASSERT_LT(missed, 4) << what << ": the kill never cut a push in 5 tries";
            if (came) server->start();
            change_source(50 + extra_rounds++);
            old_root = new_root;
            new_root = tree_root(src);
            pushing = std::async(std::launch::async, [&] { return push(); });
        }

        auto root = tree_root(on_disk());
        bool journaled = fs::exists(on_disk() / ".exmsync/journal");
        EXPECT_TRUE(root == old_root || root == new_root || journaled)
            << what << ": a mix of old and new with no journal to recover it";

        server->start();  // a new port and password: the same shares, back
        auto recovered = cli_run("recover " + where());
        EXPECT_EQ(recovered.exit_code, 0) << what << ": recover failed: " << recovered.err;
        root = tree_root(on_disk());
        EXPECT_TRUE(root == old_root || root == new_root) << what << ": a mix of old and new after recover";
        EXPECT_EQ(leftovers(on_disk()), "") << what << ": after recover";

        auto next = push();
        EXPECT_EQ(next.exit_code, 0) << what << ": the next push failed: " << next.err;
        EXPECT_EQ(rsync_differences(src, on_disk()), "") << what;
        EXPECT_EQ(leftovers(on_disk()), "") << what;
    }

    TempDir dir;
    bool mutated = false;
    int extra_rounds = 0;
    std::unique_ptr<SmbServer> server;
    fs::path src = dir / "src";
};

// Early, midway and late in the uploads (staged files show how far they got).
TEST_F(SmbFaults, ServerKilledWhileFilesAreSent) {
    int round = 0;
    for (std::size_t staged : {20, 600, 1150}) {
        change_source(++round);
        kill_when([&] { return count_files(on_disk() / ".exmsync/staging") >= staged; },
                  "killed after " + std::to_string(staged) + " staged files");
    }
}

TEST_F(SmbFaults, ServerKilledDuringTheCommit) {
    change_source(9);
    kill_when([&] { return fs::exists(on_disk() / ".exmsync/journal"); }, "killed during the commit");
}

}  // namespace
