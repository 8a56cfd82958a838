// The fault-injecting decorator used by the apply crash tests.
#include "support/faulty_transport.hpp"

#include <gtest/gtest.h>

#include "helpers.hpp"
#include "support/temp_tree.hpp"
#include "transport/local.hpp"

namespace exmsync::testing {
namespace {

namespace fs = boost::filesystem;
using transport::Transport;

// Ten changing operations, with reads mixed in that must not count:
// mkdir, create, write, write, commit, set_mtime, rename, flush_dir, remove, flush_all.
void scenario(Transport& t) {
    t.mkdir("d");
    auto writer = t.create("d/f");
    writer->write("ab", 2);
    writer->write("cd", 2);
    writer->commit(transport::Flush::Now);
    (void)t.stat("d/f");
    (void)t.list("d");
    (void)read_all(t, "d/f");
    t.set_mtime("d/f", 1'000'000'000);
    t.rename("d/f", "g");
    t.flush_dir("d");
    t.remove("d");
    t.flush_all();
}

constexpr std::uint64_t kScenarioOperations = 10;

// Spot checks that operation n of the scenario did not happen and n-1 did.
void expect_stopped_before(std::uint64_t n, const fs::path& root) {
    const fs::path f = root / "d" / "f";
    if (n == 1) {
        EXPECT_FALSE(fs::exists(root / "d"));
    } else if (n == 2) {
        EXPECT_FALSE(fs::exists(f));
    } else if (n == 4) {
        EXPECT_EQ(read_file(f), "ab");
    } else if (n == 6) {
        EXPECT_NE(fs::last_write_time(f), 1);
    } else if (n == 7) {
        EXPECT_EQ(fs::last_write_time(f), 1);
        EXPECT_FALSE(fs::exists(root / "g"));
    } else if (n == 9) {
        EXPECT_TRUE(fs::exists(root / "d"));
        EXPECT_TRUE(fs::exists(root / "g"));
    }
}

TEST(FaultyTransport, CountsOnlyChangingOperations) {
    TempDir dir;
    auto inner = transport::make_local_transport(dir.path());
    FaultyTransport probe(*inner);
    scenario(probe);
    EXPECT_EQ(probe.operations(), kScenarioOperations);
    EXPECT_EQ(read_file(dir.path() / "g"), "abcd");
    EXPECT_EQ(probe.describe(), inner->describe());
    EXPECT_EQ(probe.local_path(), inner->local_path());
}

TEST(FaultyTransport, FailsEachOperationBeforePerformingIt) {
    for (std::uint64_t n = 1; n <= kScenarioOperations; ++n) {
        TempDir dir;
        auto inner = transport::make_local_transport(dir.path());
        FaultyTransport faulty(*inner, n);
        try {
            scenario(faulty);
            FAIL() << "no fault at " << n;
        } catch (const transport::Error& e) {
            EXPECT_EQ(std::string(e.what()), "injected fault at operation " + std::to_string(n));
        }
        EXPECT_EQ(faulty.operations(), n);
        expect_stopped_before(n, dir.path());
    }
}

TEST(FaultyTransport, ExitModeDiesWithCode77BeforeTheOperation) {
    // Windows has no fork: the death test runs in a new process of this
    // program, which must find the same folder by its name.
    // (The child cannot remove it: the parent's transport holds it open.)
    const fs::path fixed = fs::temp_directory_path() / "exmsync-test-faulty-exit";
    boost::system::error_code held;
    fs::remove_all(fixed, held);
    TempDir dir(fixed.parent_path(), fixed.filename().string());
    auto inner = transport::make_local_transport(dir.path());
    EXPECT_EXIT(
        {
            FaultyTransport faulty(*inner, 7, FaultMode::Exit);
            scenario(faulty);
        },
        ::testing::ExitedWithCode(FaultyTransport::kExitCode), "");
    // The child got as far as operation 6: d/f written and re-timed, not renamed.
    EXPECT_EQ(read_file(dir.path() / "d" / "f"), "abcd");
    EXPECT_FALSE(fs::exists(dir.path() / "g"));
}

TEST(FaultyTransport, ZeroNeverFails) {
    TempDir dir;
    auto inner = transport::make_local_transport(dir.path());
    FaultyTransport faulty(*inner, 0, FaultMode::Exit);
    for (int i = 0; i < 50; ++i) {
        faulty.mkdir("x" + std::to_string(i));
    }
    EXPECT_EQ(faulty.operations(), 50u);
}

TEST(FaultyTransport, AFaultPastTheEndNeverStrikes) {
    TempDir dir;
    auto inner = transport::make_local_transport(dir.path());
    FaultyTransport faulty(*inner, kScenarioOperations + 1);
    EXPECT_NO_THROW(scenario(faulty));
}

}  // namespace
}  // namespace exmsync::testing
