// The crash tests of the apply protocol (tests/unit/sync/crash_test.cpp), run
// over the SMB Direct target on a real smbd: the fault-injecting transport
// wraps the SMB transport, so each fault strikes between two real SMB
// requests. A push is refused, or its process ended, at operations sampled
// across the whole push; then `recover` over SMB must leave the share's
// folder old or new byte for byte, with a clean state folder.
//
// libsmbclient keeps its connections process-wide, so this process never
// touches SMB itself: every push and every recovery runs in a child of its
// own, and this process only reads the share's folder on disk.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "integration/smb_server.hpp"
#include "support/faulty_transport.hpp"
#include "support/in_child.hpp"
#include "support/lock_file.hpp"
#include "support/tree_root.hpp"
#include "sync/history.hpp"
#include "sync/push.hpp"
#include "sync/target.hpp"
#include "transport/smb.hpp"

using namespace exmsync;
using namespace exmsync::testing;
using namespace exmsync::testing::smb;

namespace {

class SmbCrash : public ::testing::Test {
protected:
    void SetUp() override {
        server = std::make_unique<SmbServer>(dir / "smbd");
        make_share_folder(*server, "sync", "t");
        options.use_cache = false;  // the source changes between scans in less than the racy window
        TreeMaker maker(7);
        maker.make(source);
        fs::create_directories(pristine);
        sync::push(source.string(), {pristine.string()}, options);
        old_root = tree_root(pristine);
        maker.mutate(source);
        new_root = tree_root(source);
    }

    std::unique_ptr<transport::Transport> connect() const {
        transport::OpenOptions::Smb smb;
        smb.credentials = (*server)["SMB_CREDENTIALS"];
        return transport::open_smb(server->url("sync", "t"), smb);
    }

    fs::path target() const { return server->share_dir("sync") / "t"; }

    // The old tree in the share's folder, owned by the share's account so
    // that smbd may change it.
    void reset_target() {
        fs::remove_all(target());
        copy_tree(pristine, target());
        run("chown -R exmsynctest: " + q(target()));
    }

    // In a child: pushes through SMB with a fault at operation `fail_at`
    // (0: none); the refusal it caused is swallowed. The operations counted
    // are written to `counted` when the push returns.
    void push_faulty(std::uint64_t fail_at, FaultMode mode) const {
        auto smb = connect();
        FaultyTransport faulty(*smb, fail_at, mode);
        auto src = sync::PushSource::open(source.string(), options);
        try {
            sync::push_to(faulty, server->url("sync", "t"), *src, options);
        } catch (const std::exception& e) {
            if (std::string(e.what()).find("injected fault") == std::string::npos) throw;
        }
        std::ofstream(counted.string()) << faulty.operations();
    }

    std::uint64_t operations_counted() const {
        std::uint64_t n = 0;
        std::ifstream(counted.string()) >> n;
        return n;
    }

    // Recovers over SMB in a child; the folder must then be all old or all
    // new, its state folder clean, and `current` must name the root it holds.
    bool check_after_fault(const std::string& what) {
        age_empty_lock(target());
        const fs::path current_file = dir / "current";
        fs::remove(current_file);
        int code = in_child([&] {
            auto smb = connect();
            sync::DirectTarget direct(*smb);
            direct.open(true);
            auto current = sync::History(direct.state()).current();
            direct.close();
            std::ofstream(current_file.string()) << (current ? current->root.hex() : "none");
        });
        EXPECT_EQ(code, 0) << what << ": recover over SMB failed";
        auto root = tree_root(target());
        bool is_new = root == new_root;
        EXPECT_TRUE(is_new || root == old_root) << what << ": the target is a mix of old and new";
        EXPECT_EQ(read_file(current_file), root.hex()) << what << ": current does not name the root held";
        EXPECT_EQ(cli::leftovers(target()), "") << what;
        for (const char* leftover : {"undo", "current.new"})
            EXPECT_FALSE(fs::exists(target() / ".exmsync" / leftover)) << what << ": " << leftover << " left";
        return is_new;
    }

    // Every operation the push makes, counted through SMB with no fault.
    std::uint64_t count_operations() {
        reset_target();
        EXPECT_EQ(in_child([&] { push_faulty(0, FaultMode::Throw); }), 0);
        EXPECT_EQ(tree_root(target()), new_root);
        return operations_counted();
    }

    // A push from the old tree faulted at `count` operations sampled over
    // 1..total, each followed by recover; some must end old, some new.
    void fault_at_samples(std::uint64_t total, std::uint64_t count, FaultMode mode, int child_exit,
                          const std::string& fault) {
        std::uint64_t ended_new = 0, points = 0;
        for (std::uint64_t n : sample_operations(total, count)) {
            reset_target();
            const std::string what = fault + " at operation " + std::to_string(n);
            ASSERT_EQ(in_child([&] { push_faulty(n, mode); }), child_exit) << what;
            ended_new += check_after_fault(what);
            ++points;
        }
        EXPECT_GT(ended_new, 0u);
        EXPECT_LT(ended_new, points);
        std::printf("%llu of %llu operations faulted, %llu ended new\n", static_cast<unsigned long long>(points),
                    static_cast<unsigned long long>(total), static_cast<unsigned long long>(ended_new));
    }

    TempDir dir;
    std::unique_ptr<SmbServer> server;
    sync::PushOptions options;
    fs::path source = dir / "source", pristine = dir / "pristine", counted = dir / "counted";
    manifest::Hash128 old_root, new_root;
};

// A refusal between two SMB requests is undone by the apply itself.
TEST_F(SmbCrash, RefusalAtSampledOperationsLeavesOldOrNew) {
    const std::uint64_t total = count_operations();
    ASSERT_GE(total, 150u) << "the changeset should exercise writes, deletes, renames and type changes";
    fault_at_samples(total, 15, FaultMode::Throw, 0, "refusal");
}

// The pushing process ends between two SMB requests (its connection dies
// with it); recovery over a new connection finishes or undoes the commit.
TEST_F(SmbCrash, ProcessExitAtSampledOperationsLeavesOldOrNewAfterRecover) {
    fault_at_samples(count_operations(), 6, FaultMode::Exit, FaultyTransport::kExitCode, "exit");
}

// A push ended mid-commit, then its recovery ended too, both over SMB.
TEST_F(SmbCrash, CrashDuringRecover) {
    const std::uint64_t total = count_operations();
    // A cut during the commit: where the journal is on the target.
    bool journaled = false;
    std::uint64_t cut_at = 0;
    for (std::uint64_t cut : {total * 3 / 4, total * 2 / 3, total * 5 / 6, total - 20}) {
        reset_target();
        ASSERT_EQ(in_child([&] { push_faulty(cut, FaultMode::Exit); }), FaultyTransport::kExitCode);
        cut_at = cut;
        if ((journaled = fs::exists(target() / ".exmsync/journal"))) break;
    }
    ASSERT_TRUE(journaled) << "no cut came during the commit";
    const fs::path interrupted = dir / "interrupted";
    run("cp -a " + q(target()) + " " + q(interrupted));  // -a: still the share account's
    ASSERT_EQ(in_child([&] {
                  auto smb = connect();
                  FaultyTransport counting(*smb);
                  sync::DirectTarget(counting).open(true);
                  std::ofstream(counted.string()) << counting.operations();
              }),
              0);
    const std::uint64_t recover_ops = operations_counted();
    ASSERT_GT(recover_ops, 3u);
    std::printf("recover of a commit cut at operation %llu of %llu: %llu operations\n",
                static_cast<unsigned long long>(cut_at), static_cast<unsigned long long>(total),
                static_cast<unsigned long long>(recover_ops));
    std::fflush(stdout);  // or every child below prints it again
    for (std::uint64_t m : sample_operations(recover_ops, 4)) {
        fs::remove_all(target());
        run("cp -a " + q(interrupted) + " " + q(target()));
        const std::string what = "recover cut at operation " + std::to_string(m);
        ASSERT_EQ(in_child([&] {
                      auto smb = connect();
                      FaultyTransport faulty(*smb, m, FaultMode::Exit);
                      sync::DirectTarget(faulty).open(true);
                  }),
                  FaultyTransport::kExitCode)
            << what;
        check_after_fault(what);
    }
}

}  // namespace
