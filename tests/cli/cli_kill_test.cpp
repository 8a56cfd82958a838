// A real `exmsync apply` process killed with SIGKILL at moments spread over
// the apply's duration: after `exmsync recover` the target must hold exactly
// the old tree or exactly the new one, never a mix, and no lock or journal.
// Then the target lock: two applies at once, a live owner, a stale owner.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>

#include "cli/cli_support.hpp"
#include "support/lock_file.hpp"

using namespace exmsync::testing;
using namespace exmsync::testing::cli;

namespace {

using Clock = std::chrono::steady_clock;

// Built once for the suite: a target a push set up from the old tree, and a
// changeset archive that brings it to the new one.
struct Big {
    // On tmpfs where there is one: SIGKILL leaves the page cache intact, so
    // this suite does not depend on fsync reaching a disk, and 60+ killed
    // applies stay fast.
    TempDir dir{scratch_parent()};
    fs::path src = dir / "src";
    fs::path base_target = dir / "base-target";
    fs::path archive = dir / "big.tar.zst";
    std::string old_root, new_root;
    int runs = 0;
};

Big* big = nullptr;

void make_trees() {
    TreeMaker maker(2026);
    maker.make(big->src, 50);  // 250 templates
    for (int i = 0; i < 12; ++i)
        write_file(big->src / "media" / ("banner-" + std::to_string(i) + ".png"), maker.content(150000, 100000));
    fs::create_directories(big->base_target);
    auto push = cli_run("push --no-cache " + q(big->src) + " " + q(big->base_target));
    ASSERT_EQ(push.exit_code, 0) << push.out << push.err;

    // The new tree: every kind of change, and a lot of each.
    maker.mutate(big->src);
    std::vector<fs::path> files;
    for (fs::recursive_directory_iterator it(big->src), end; it != end; ++it)
        if (it->path().filename() == ".exmsync") it.disable_recursion_pending();
        else if (fs::is_regular_file(it->path())) files.push_back(it->path());
    std::sort(files.begin(), files.end());
    for (std::size_t i = 0; i < files.size(); ++i) {
        if (i % 3 == 0) write_file(files[i], maker.content(500, 8000));  // modified
        else if (i % 11 == 1) fs::remove(files[i]);                      // deleted
        else if (i % 13 == 2) fs::rename(files[i], files[i].string() + ".moved");
    }
    for (int i = 0; i < 150; ++i)
        write_file(big->src / "added" / ("a" + std::to_string(i % 7)) / ("n" + std::to_string(i) + ".html"),
                   maker.content(1000, 20000));
    write_file(big->src / "media/banner-big.png", maker.content(1500000, 1));

    ASSERT_EQ(cli_run("manifest " + q(big->base_target) + " -o " + q(big->dir / "base.manifest")).exit_code, 0);
    auto p = cli_run("pack " + q(big->src) + " --base " + q(big->dir / "base.manifest") + " -o " + q(big->archive));
    ASSERT_EQ(p.exit_code, 0) << p.err;
    std::printf("[ kill     ] in %s, changeset: %s", big->dir.path().c_str(), p.out.c_str());
    big->old_root = root_of(manifest_of(big->base_target));
    big->new_root = root_of(manifest_of(big->src));
    ASSERT_NE(big->old_root, big->new_root);
}

class KillApply : public ::testing::Test {
protected:
    // A killed exmsync cannot remove its temporary files: they go to the
    // suite's folder, not /tmp.
    static void SetUpTestSuite() {
        big = new Big;
        const char* tmp = std::getenv("TMPDIR");
        saved_tmpdir = tmp ? tmp : "";
        fs::create_directories(big->dir / "tmp");
        ::setenv("TMPDIR", (big->dir / "tmp").c_str(), 1);
        make_trees();
    }
    static void TearDownTestSuite() {
        delete big;
        big = nullptr;
        if (saved_tmpdir.empty()) ::unsetenv("TMPDIR");
        else ::setenv("TMPDIR", saved_tmpdir.c_str(), 1);
    }
    static inline std::string saved_tmpdir;
    void SetUp() override { ASSERT_FALSE(big->old_root.empty()) << "the suite's trees could not be made"; }

    // A fresh copy of the base target, state folder included.
    fs::path fresh_target() {
        fs::path t = big->dir / ("target-" + std::to_string(big->runs++));
        copy_tree(big->base_target, t);
        return t;
    }

    pid_t start_apply(const fs::path& target, const std::string& out = "/dev/null",
                      const std::string& err = "/dev/null") {
        pid_t pid = spawn({kExmsync, "apply", big->archive.string(), "--root", target.string()}, out, err);
        EXPECT_GT(pid, 0);
        return pid;
    }

    std::string root(const fs::path& target) { return root_of(manifest_of(target)); }
};

// What the killed process left, before recovery: which step it died in.
std::string phase_of(const fs::path& target) {
    fs::path state = target / ".exmsync";
    if (fs::exists(state / "journal")) return "journaled commit";
    if (fs::exists(state / "staging") && !fs::is_empty(state / "staging")) return "staging";
    if (fs::exists(state / "lock")) return fs::file_size(state / "lock") ? "locked, nothing staged" : "lock empty";
    return "no lock held";
}

TEST_F(KillApply, RecoverAlwaysGivesTheOldOrTheNewTree) {
    // Uninterrupted applies, timed only to spread the kills over one (the
    // median of three).
    std::vector<Clock::duration> times;
    for (int i = 0; i < 3; ++i) {
        fs::path measured = fresh_target();
        auto t0 = Clock::now();
        int code = wait_for(start_apply(measured));
        times.push_back(Clock::now() - t0);
        ASSERT_EQ(code, 0);
        ASSERT_EQ(root(measured), big->new_root);
        fs::remove_all(measured);
    }
    std::sort(times.begin(), times.end());
    auto duration = times[1];

    // 80 by default; EXMSYNC_KILL_RUNS=1000 for a soak run.
    const int kRuns = std::getenv("EXMSYNC_KILL_RUNS") ? std::max(1, std::atoi(std::getenv("EXMSYNC_KILL_RUNS"))) : 80;
    std::mt19937_64 rng(20260321);
    std::uniform_real_distribution<double> jitter(0.0, 1.0);
    int ended_old = 0, ended_new = 0, finished_before_kill = 0;
    std::map<std::string, int> phases;
    for (int i = 0; i < kRuns; ++i) {
        // Stratified: run i dies somewhere in the i-th slice of 0..110% of the duration.
        double fraction = (i + jitter(rng)) / kRuns * 1.1;
        fs::path target = fresh_target();
        SCOPED_TRACE("run " + std::to_string(i) + ", killed at " + std::to_string(fraction) + " of the apply");
        pid_t pid = start_apply(target);
        std::this_thread::sleep_for(std::chrono::duration_cast<Clock::duration>(duration * fraction));
        ::kill(pid, SIGKILL);
        int status = wait_for(pid);
        ASSERT_TRUE(status == 0 || status == 128 + SIGKILL) << status;
        if (status == 0) ++finished_before_kill;
        ++phases[phase_of(target)];
        age_empty_lock(target);

        auto r = cli_run("recover --root " + q(target));
        ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
        EXPECT_EQ(leftovers(target), "");
        std::string now = root(target);
        ASSERT_TRUE(now == big->old_root || now == big->new_root) << "a mixed tree: " << now;
        if (now == big->old_root) {
            ++ended_old;
            // Undone means undone: the same changeset still applies.
            if (i % 3 == 0) {
                auto again = cli_run("apply " + q(big->archive) + " --root " + q(target));
                EXPECT_EQ(again.exit_code, 0) << again.err;
                EXPECT_EQ(root(target), big->new_root);
            }
        } else {
            ++ended_new;
            // Finished means recorded: history's current entry is the new tree.
            auto h = cli_run("history --json --root " + q(target));
            ASSERT_EQ(h.exit_code, 0) << h.err;
            auto history = nlohmann::json::parse(h.out)["applies"];
            ASSERT_EQ(history.size(), 3u);  // before exmsync, the push, the apply
            EXPECT_EQ(history.back()["current"], true);
            EXPECT_EQ(history.back()["new_root"], big->new_root);
            auto push = cli_run("push " + q(big->src) + " " + q(target));
            EXPECT_EQ(push.out, target.string() + ": in sync\n1 target: 0 updated, 1 already in sync, 0 failed\n")
                << push.err;
        }
        fs::remove_all(target);
    }
    std::printf("[ kill     ] %d runs over an apply of %.0f ms: %d ended old, %d ended new (%d had finished "
                "before the kill)\n",
                kRuns, std::chrono::duration<double, std::milli>(duration).count(), ended_old, ended_new,
                finished_before_kill);
    for (const auto& [phase, n] : phases) std::printf("[ kill     ]   killed with %-24s %d\n", phase.c_str(), n);
    EXPECT_EQ(ended_old + ended_new, kRuns);
}

// Two applies of the same archive started together on one target: exactly
// one applies it; the other sees the winner's lock, or (started after it
// finished) finds the changeset already applied and changes nothing.
TEST_F(KillApply, TwoAppliesAtOnceExactlyOneSucceeds) {
    int saw_lock = 0, saw_done = 0;
    for (int round = 0; round < 6; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        fs::path target = fresh_target();
        std::string out[2], err[2];
        for (int k = 0; k < 2; ++k) {
            out[k] = (big->dir / ("out-" + std::to_string(k))).string();
            err[k] = (big->dir / ("err-" + std::to_string(k))).string();
        }
        pid_t pids[2] = {start_apply(target, out[0], err[0]), start_apply(target, out[1], err[1])};
        int codes[2] = {wait_for(pids[0]), wait_for(pids[1])};
        auto already = [&](int k) { return read_file(out[k]).find("already holds changeset") != std::string::npos; };
        int applied = (codes[0] == 0 && !already(0)) + (codes[1] == 0 && !already(1));
        ASSERT_EQ(applied, 1) << "exit codes " << codes[0] << " and " << codes[1] << "\n"
                              << read_file(out[0]) << read_file(out[1]) << read_file(err[0]) << read_file(err[1]);
        int loser = codes[0] == 0 && !already(0) ? 1 : 0;
        if (codes[loser] == 0) {
            EXPECT_TRUE(already(loser));
            ++saw_done;
        } else {
            EXPECT_EQ(codes[loser], 2);
            std::string why = read_file(err[loser]);
            std::string locked =
                "locked by another exmsync (pid " + std::to_string(pids[1 - loser]) + " on " + host_name();
            EXPECT_NE(why.find(locked), std::string::npos) << why;
            EXPECT_EQ(count_lines(why), 1) << why;
            ++saw_lock;
        }
        EXPECT_EQ(root(target), big->new_root);
        EXPECT_EQ(leftovers(target), "");
        fs::remove_all(target);
    }
    std::printf("[ kill     ] two applies at once, 6 rounds: the loser saw the lock %d times, found it applied %d "
                "times\n",
                saw_lock, saw_done);
}

// A lock held by a live process (this test's `sleep` child) is never broken;
// once that process is gone the lock is stale: the next apply takes it over,
// says so, and applies.
TEST_F(KillApply, LiveLockThenStaleLock) {
    fs::path target = fresh_target();
    pid_t sleeper = spawn({"/bin/sleep", "30"});
    ASSERT_GT(sleeper, 0);
    std::string lock = "host=" + host_name() + "\npid=" + std::to_string(sleeper) + "\nsince=2026-03-21T10:00:00Z\n";
    write_file(target / ".exmsync/lock", lock);

    auto live = cli_run("apply " + q(big->archive) + " --root " + q(target));
    EXPECT_EQ(live.exit_code, 2);
    EXPECT_NE(live.err.find("locked by another exmsync (pid " + std::to_string(sleeper) + " on " + host_name() +
                            " since 2026-03-21T10:00:00Z"),
              std::string::npos)
        << live.err;
    EXPECT_EQ(count_lines(live.err), 1) << live.err;
    auto not_broken = cli_run("recover --root " + q(target));
    EXPECT_EQ(not_broken.exit_code, 2) << not_broken.out;
    EXPECT_NE(not_broken.err.find("pid " + std::to_string(sleeper)), std::string::npos) << not_broken.err;
    EXPECT_EQ(read_file(target / ".exmsync/lock"), lock);
    EXPECT_EQ(root(target), big->old_root);

    ::kill(sleeper, SIGKILL);
    wait_for(sleeper);  // reaped: the pid is gone, not a zombie

    auto applied = cli_run("apply " + q(big->archive) + " --root " + q(target));
    EXPECT_EQ(applied.exit_code, 0) << applied.err;
    EXPECT_NE(applied.err.find("removed a stale lock from pid " + std::to_string(sleeper)), std::string::npos)
        << applied.err;
    EXPECT_FALSE(fs::exists(target / ".exmsync/lock"));
    EXPECT_EQ(root(target), big->new_root);
    EXPECT_EQ(leftovers(target), "");
}

// A lock from another host cannot be judged from here: never broken.
TEST_F(KillApply, LockFromAnotherHostIsNeverBroken) {
    fs::path target = fresh_target();
    std::string lock = "host=cm2.corp.local\npid=1\nsince=2026-03-21T10:00:00Z\n";
    write_file(target / ".exmsync/lock", lock);
    auto r = cli_run("apply " + q(big->archive) + " --root " + q(target));
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("locked by another exmsync (pid 1 on cm2.corp.local"), std::string::npos) << r.err;
    EXPECT_NE(cli_run("recover --root " + q(target)).exit_code, 0);
    EXPECT_EQ(read_file(target / ".exmsync/lock"), lock);
    EXPECT_EQ(root(target), big->old_root);
}

}  // namespace
