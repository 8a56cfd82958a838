// The crash tests of the apply protocol (tests/unit/sync/crash_test.cpp), run
// over the agentless SFTP target on a real sshd: the fault-injecting
// transport wraps the SFTP transport, so each fault strikes between two real
// SFTP requests. A push is refused, or its process ended, at operations
// sampled across the whole push; then `recover` over SFTP must leave the
// target old or new byte for byte, with a clean state folder. Sampled rather
// than every operation: each SFTP session costs a second here.
#include <gtest/gtest.h>

#include <set>

#include "integration/ssh_server.hpp"
#include "support/faulty_transport.hpp"
#include "support/in_child.hpp"
#include "support/lock_file.hpp"
#include "support/random_tree.hpp"
#include "support/tree_root.hpp"
#include "sync/history.hpp"
#include "sync/push.hpp"
#include "sync/target.hpp"
#include "transport/ssh.hpp"

using namespace exmsync;
using namespace exmsync::testing;
using namespace exmsync::testing::ssh;

namespace {

class SftpCrash : public ::testing::Test {
protected:
    void SetUp() override {
        server = std::make_unique<SshServer>(dir / "sshd");
        options.use_cache = false;  // the source changes between scans in less than the racy window
        TreeMaker maker(7);
        maker.make(source);
        fs::create_directories(pristine);
        sync::push(source.string(), {pristine.string()}, options);
        old_root = tree_root(pristine);
        maker.mutate(source);
        new_root = tree_root(source);
        src = sync::PushSource::open(source.string(), options);
    }

    std::shared_ptr<transport::SshSession> connect() {
        transport::SshOptions ssh;
        ssh.known_hosts = (*server)["SSH_KNOWN_HOSTS"];
        ssh.identities = {(*server)["SSH_CLIENT_KEY"]};
        return std::make_shared<transport::SshSession>(transport::SshUrl::parse(server->url(target)), ssh);
    }

    void reset_target() {
        fs::remove_all(target);
        copy_tree(pristine, target);
    }

    // Pushes through SFTP with a fault at operation `fail_at` (0: none);
    // returns the operations counted. The refusal it caused is swallowed.
    std::uint64_t push_faulty(transport::Transport& sftp, std::uint64_t fail_at, FaultMode mode) {
        FaultyTransport faulty(sftp, fail_at, mode);
        try {
            sync::push_to(faulty, server->url(target), *src, options);
        } catch (const std::exception& e) {
            if (std::string(e.what()).find("injected fault") == std::string::npos) throw;
        }
        return faulty.operations();
    }

    // Recovers over SFTP; the target must then be all old or all new, its
    // state folder clean, and `current` must name the root it holds.
    bool check_after_fault(transport::Transport& sftp, const std::string& what) {
        age_empty_lock(target);
        sync::DirectTarget direct(sftp);
        direct.open(true);
        auto current = sync::History(direct.state()).current();
        direct.close();
        auto root = tree_root(target);
        bool is_new = root == new_root;
        EXPECT_TRUE(is_new || root == old_root) << what << ": the target is a mix of old and new";
        EXPECT_TRUE(current && current->root == root) << what << ": current does not name the root held";
        for (const char* leftover : {"lock", "journal", "journal.new", "undo", "current.new"})
            EXPECT_FALSE(fs::exists(target / ".exmsync" / leftover)) << what << ": " << leftover << " left";
        EXPECT_TRUE(!fs::exists(target / ".exmsync/staging") || fs::is_empty(target / ".exmsync/staging")) << what;
        return is_new;
    }

    TempDir dir{scratch_parent()};
    std::unique_ptr<SshServer> server;
    sync::PushOptions options;
    fs::path source = dir / "source", pristine = dir / "pristine", target = dir / "t";
    std::unique_ptr<sync::PushSource> src;
    manifest::Hash128 old_root, new_root;
};

// A refusal between two SFTP requests is undone by the apply itself.
TEST_F(SftpCrash, RefusalAtSampledOperationsLeavesOldOrNew) {
    reset_target();
    auto sftp = transport::open_sftp(connect());
    std::uint64_t total = push_faulty(*sftp, 0, FaultMode::Throw);
    ASSERT_EQ(tree_root(target), new_root);
    ASSERT_GE(total, 150u) << "the changeset should exercise writes, deletes, renames and type changes";
    std::uint64_t ended_new = 0, points = 0;
    for (std::uint64_t n : sample_operations(total, 15)) {
        reset_target();
        push_faulty(*sftp, n, FaultMode::Throw);
        ended_new += check_after_fault(*sftp, "refusal at operation " + std::to_string(n));
        ++points;
    }
    EXPECT_GT(ended_new, 0u);
    EXPECT_LT(ended_new, points);
}

// The pushing process ends between two SFTP requests (its session dies with
// it); recovery over a new session finishes or undoes the commit.
TEST_F(SftpCrash, ProcessExitAtSampledOperationsLeavesOldOrNewAfterRecover) {
    std::uint64_t total = 0;
    {
        reset_target();
        auto sftp = transport::open_sftp(connect());
        total = push_faulty(*sftp, 0, FaultMode::Throw);
    }
    std::uint64_t ended_new = 0, points = 0;
    for (std::uint64_t n : sample_operations(total, 5)) {
        reset_target();
        int code = in_child([&] {
            auto sftp = transport::open_sftp(connect());
            push_faulty(*sftp, n, FaultMode::Exit);
        });
        std::string what = "exit at operation " + std::to_string(n);
        ASSERT_EQ(code, FaultyTransport::kExitCode) << what << " was never reached";
        auto sftp = transport::open_sftp(connect());
        ended_new += check_after_fault(*sftp, what);
        ++points;
    }
    EXPECT_GT(ended_new, 0u);
    EXPECT_LT(ended_new, points);
}

// A push ended mid-commit, then its recovery ended too, both over SFTP.
TEST_F(SftpCrash, CrashDuringRecover) {
    std::uint64_t total = 0;
    {
        reset_target();
        auto sftp = transport::open_sftp(connect());
        total = push_faulty(*sftp, 0, FaultMode::Throw);
    }
    // A cut during the commit: where the journal is on the target.
    bool journaled = false;
    for (std::uint64_t cut : {total * 3 / 4, total * 2 / 3, total * 5 / 6, total - 20}) {
        reset_target();
        ASSERT_EQ(in_child([&] { push_faulty(*transport::open_sftp(connect()), cut, FaultMode::Exit); }),
                  FaultyTransport::kExitCode);
        if ((journaled = fs::exists(target / ".exmsync/journal"))) break;
    }
    ASSERT_TRUE(journaled) << "no cut came during the commit";
    fs::path interrupted = dir / "interrupted";
    copy_tree(target, interrupted);
    std::uint64_t recover_ops = 0;
    {
        auto sftp = transport::open_sftp(connect());
        FaultyTransport counting(*sftp);
        sync::DirectTarget(counting).open(true);
        recover_ops = counting.operations();
    }
    ASSERT_GT(recover_ops, 3u);
    for (std::uint64_t m : sample_operations(recover_ops, 4)) {
        fs::remove_all(target);
        copy_tree(interrupted, target);
        int code = in_child([&] {
            auto sftp = transport::open_sftp(connect());
            FaultyTransport faulty(*sftp, m, FaultMode::Exit);
            sync::DirectTarget(faulty).open(true);
        });
        ASSERT_EQ(code, FaultyTransport::kExitCode) << "recover operation " << m;
        auto sftp = transport::open_sftp(connect());
        check_after_fault(*sftp, "recover cut at operation " + std::to_string(m));
    }
}

}  // namespace
