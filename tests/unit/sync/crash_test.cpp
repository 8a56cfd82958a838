// The all-or-nothing promise, tested the hard way: an apply is stopped at
// every single operation that changes the target (by an exception, or by
// ending the process on the spot), and after `recover` the target must equal
// either the old or the new manifest byte for byte, never a mix; the state
// folder must be clean; and when the new state won, rollback must bring back
// the old one.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "manifest/format.hpp"
#include "support/faulty_transport.hpp"
#include "support/random_tree.hpp"
#include "support/tree_root.hpp"
#include "sync/apply.hpp"
#include "sync/push.hpp"
#include "sync/rollback.hpp"
#include "sync/snapshot.hpp"
#include "transport/local.hpp"

using namespace exmsync;
using namespace exmsync::testing;

namespace {

struct Scenario {
    TempDir dir;
    fs::path source, pristine;
    manifest::Hash128 old_root, new_root;
    std::string first_apply;
    std::string saved_tmpdir;

    explicit Scenario(std::uint64_t seed) : source(dir / "source"), pristine(dir / "pristine") {
        // A process ended mid-push leaves its temporary manifests behind:
        // keep them in this test's folder rather than in /tmp.
        const char* tmp = std::getenv("TMPDIR");
        saved_tmpdir = tmp ? tmp : "";
        fs::create_directories(dir / "tmp");
        ::setenv("TMPDIR", (dir / "tmp").c_str(), 1);
        TreeMaker maker(seed);
        maker.make(source);
        // The pristine target has had one push, so history can roll back to it.
        fs::create_directories(pristine);
        auto report = sync::push(source.string(), {pristine.string()}, {});
        first_apply = report.targets.at(0).apply_id;
        old_root = tree_root(pristine);
        maker.mutate(source);
        new_root = tree_root(source);
    }

    ~Scenario() {
        if (saved_tmpdir.empty()) ::unsetenv("TMPDIR");
        else ::setenv("TMPDIR", saved_tmpdir.c_str(), 1);
    }

    fs::path fresh_target(const std::string& name) {
        fs::path target = dir / name;
        fs::remove_all(target);
        copy_tree(pristine, target);
        return target;
    }

    // Push through a transport that fails the N-th changing operation.
    void push_faulty(const fs::path& target, std::uint64_t fail_at, FaultMode mode, std::uint64_t* total = nullptr) {
        sync::PushOptions options;
        auto src = sync::PushSource::open(source.string(), options);
        transport::OpenOptions open;
        open.flush_each_file = false;
        auto local = transport::make_local_transport(target, open);
        FaultyTransport faulty(*local, fail_at, mode);
        try {
            auto r = sync::push_to(faulty, target.string(), *src, options);
            if (total) *total = faulty.operations();
        } catch (const std::exception& e) {
            // Errors raised after the journal was written wrap the injected one.
            if (mode == FaultMode::Throw && std::string(e.what()).find("injected fault") != std::string::npos) return;
            throw;
        }
    }

    // After a fault: recover, then the target must be all old or all new.
    // Returns true when the new state won.
    bool check_after_fault(const fs::path& target, std::uint64_t n) {
        auto t = transport::make_local_transport(target);
        sync::recover(*t, {}, true);
        auto root = tree_root(target);
        bool is_new = root == new_root;
        EXPECT_TRUE(is_new || root == old_root) << "operation " << n << ": target is a mix of old and new";
        EXPECT_FALSE(fs::exists(target / ".exmsync/lock")) << "operation " << n;
        EXPECT_FALSE(fs::exists(target / ".exmsync/journal")) << "operation " << n;
        EXPECT_TRUE(!fs::exists(target / ".exmsync/staging") || fs::is_empty(target / ".exmsync/staging"))
            << "operation " << n;
        return is_new;
    }
};

std::uint64_t count_operations(Scenario& s) {
    auto target = s.fresh_target("probe");
    std::uint64_t total = 0;
    s.push_faulty(target, 0, FaultMode::Throw, &total);
    EXPECT_EQ(tree_root(target), s.new_root);
    return total;
}

}  // namespace

class CrashAtEveryOperation : public ::testing::TestWithParam<std::uint64_t> {};

TEST_P(CrashAtEveryOperation, ProcessExitLeavesOldOrNewAfterRecover) {
    Scenario s(GetParam());
    std::uint64_t total = count_operations(s);
    ASSERT_GE(total, 150u) << "the changeset should exercise writes, deletes and renames";
    std::uint64_t ended_new = 0, rolled_back = 0;
    for (std::uint64_t n = 1; n <= total; ++n) {
        auto target = s.fresh_target("t");
        pid_t child = ::fork();
        ASSERT_GE(child, 0);
        if (child == 0) {
            try {
                s.push_faulty(target, n, FaultMode::Exit);
            } catch (...) {
                std::_Exit(3);
            }
            std::_Exit(0);
        }
        int status = 0;
        ::waitpid(child, &status, 0);
        ASSERT_TRUE(WIFEXITED(status)) << "operation " << n;
        ASSERT_EQ(WEXITSTATUS(status), FaultyTransport::kExitCode) << "operation " << n << " was never reached";
        if (!s.check_after_fault(target, n)) continue;
        ++ended_new;
        // The backups of the interrupted apply allow going back.
        if (n % 7 == 0) {
            sync::rollback(target.string(), s.first_apply, {});
            EXPECT_EQ(tree_root(target), s.old_root) << "rollback after operation " << n;
            ++rolled_back;
        }
    }
    EXPECT_GT(ended_new, 0u);
    EXPECT_LT(ended_new, total);
    RecordProperty("operations", static_cast<int>(total));
    std::printf("seed %llu: %llu crash points, %llu ended new, %llu rolled back\n",
                static_cast<unsigned long long>(GetParam()), static_cast<unsigned long long>(total),
                static_cast<unsigned long long>(ended_new), static_cast<unsigned long long>(rolled_back));
}

TEST_P(CrashAtEveryOperation, ThrownErrorLeavesOldOrNewAfterRecover) {
    Scenario s(GetParam() + 100);
    std::uint64_t total = count_operations(s);
    for (std::uint64_t n = 1; n <= total; ++n) {
        auto target = s.fresh_target("t");
        s.push_faulty(target, n, FaultMode::Throw);
        s.check_after_fault(target, n);
    }
}

INSTANTIATE_TEST_SUITE_P(Seeds, CrashAtEveryOperation, ::testing::Values(1, 2, 3));
