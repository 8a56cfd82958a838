#include <gtest/gtest.h>

#include <ctime>
#include <fstream>
#include <memory>
#include <set>
#include <thread>

#include "platform/process.hpp"
#include "support/child_task.hpp"
#include "support/random_tree.hpp"
#include "support/tree_root.hpp"
#include "sync/apply.hpp"
#include "sync/lock.hpp"
#include "sync/push.hpp"
#include "sync/snapshot.hpp"
#include "transport/local.hpp"

using namespace exmsync;
using namespace exmsync::testing;

namespace {

sync::TargetResult push_one(const fs::path& source, const fs::path& target, sync::PushOptions options = {}) {
    auto report = sync::push(source.string(), {target.string()}, options);
    return report.targets.at(0);
}

// A process id no process has: above Linux's pid_max, and far past the ids
// Windows hands out (multiples of 4), stepping down should one be alive.
std::int64_t dead_pid() {
    std::int64_t pid = 0x3ffffff0;
    while (platform::process_alive(pid)) pid -= 4;
    return pid;
}

// Another live process of this host, as a lock's holder: this test program
// started again, waiting until its input closes.
const RegisterChildTask wait_task("wait-for-input", [](const std::vector<std::string>&) {
    char buffer[256];
    while (auto n = platform::read_stdin(buffer, sizeof buffer, -1))
        if (*n == 0) break;
});

class LiveProcess {
public:
    LiveProcess() : child_({platform::executable_path(), "--exmsync-child-task", "wait-for-input"}, errors_path()) {}
    std::int64_t pid() const { return child_.pid(); }

private:
    static std::string errors_path() {
        static TempDir scratch;
        return (scratch / "stderr").string();
    }
    platform::Child child_;
};

}  // namespace

TEST(Push, RemoteTargetsAreServedMoreAtOnceThanThereAreCores) {
    unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    EXPECT_EQ(sync::default_parallel({"/srv/a", "/srv/b"}), cores);
    EXPECT_EQ(sync::default_parallel({"/srv/a", "ssh://cm2/site"}), std::max(cores, sync::kRemoteWorkers));
    EXPECT_EQ(sync::default_parallel({"smb://dispatch01/wwwroot"}), std::max(cores, sync::kRemoteWorkers));
    EXPECT_EQ(sync::default_parallel({"mystery://x/y", "/srv/a"}), cores);  // refused later, for that target alone
}

TEST(Push, MakesTargetsEqualAndSecondPushDoesNothing) {
    TempDir dir;
    TreeMaker(7).make(dir / "src");
    for (auto t : {"t1", "t2"}) fs::create_directories(dir / t);
    auto report = sync::push((dir / "src").string(), {(dir / "t1").string(), (dir / "t2").string()}, {});
    ASSERT_TRUE(report.all_ok()) << report.targets[0].error;
    EXPECT_EQ(tree_root(dir / "t1"), tree_root(dir / "src"));
    EXPECT_EQ(tree_root(dir / "t2"), tree_root(dir / "src"));
    EXPECT_EQ(fs::last_write_time(dir / "t1/d0/t0.html"), fs::last_write_time(dir / "src/d0/t0.html"));
    auto again = push_one(dir / "src", dir / "t1");
    EXPECT_TRUE(again.ok && again.already_in_sync);
}

TEST(Push, HandEditIsReportedAsDriftAndOverwrittenWithBackup) {
    TempDir dir;
    TreeMaker(8).make(dir / "src");
    fs::create_directories(dir / "t");
    ASSERT_TRUE(push_one(dir / "src", dir / "t").ok);
    write_file(dir / "t/d1/t1.html", "edited by hand on the server");
    auto r = push_one(dir / "src", dir / "t");
    ASSERT_TRUE(r.ok) << r.error;
    ASSERT_EQ(r.drift.size(), 1u);
    EXPECT_EQ(r.drift[0].path, "d1/t1.html");
    EXPECT_EQ(r.drift_count, 1u);
    EXPECT_EQ(read_file(dir / "t/d1/t1.html"), read_file(dir / "src/d1/t1.html"));
    bool kept = false;
    for (fs::recursive_directory_iterator it(dir / "t/.exmsync/backup"), end; it != end; ++it)
        kept = kept || (fs::is_regular_file(it->path()) && read_file(it->path()) == "edited by hand on the server");
    EXPECT_TRUE(kept);
}

TEST(Push, EmptySourceNeverDeletesTargetFiles) {
    TempDir dir;
    TreeMaker(9).make(dir / "t");
    fs::create_directories(dir / "empty-src");
    auto before = tree_root(dir / "t");
    auto r = push_one(dir / "empty-src", dir / "t");
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("holds no files"), std::string::npos) << r.error;
    EXPECT_EQ(tree_root(dir / "t"), before);
    EXPECT_THROW(sync::push((dir / "not-mounted").string(), {(dir / "t").string()}, {}), sync::Error);
    EXPECT_EQ(tree_root(dir / "t"), before);
}

TEST(Push, MaxDeleteGuard) {
    TempDir dir;
    TreeMaker(10).make(dir / "src");
    fs::create_directories(dir / "t");
    ASSERT_TRUE(push_one(dir / "src", dir / "t").ok);
    fs::remove_all(dir / "src/d0");
    fs::remove_all(dir / "src/d1");
    sync::PushOptions options;
    options.max_delete = 5;
    auto before = tree_root(dir / "t");
    auto r = push_one(dir / "src", dir / "t", options);
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("--max-delete 5"), std::string::npos) << r.error;
    EXPECT_EQ(tree_root(dir / "t"), before);
}

TEST(Push, NoDeleteKeepsTargetOnlyFiles) {
    TempDir dir;
    TreeMaker(11).make(dir / "src");
    fs::create_directories(dir / "t");
    write_file(dir / "t/local-only.html", "mine");
    sync::PushOptions options;
    options.plan.deletes = false;
    ASSERT_TRUE(push_one(dir / "src", dir / "t", options).ok);
    EXPECT_TRUE(fs::exists(dir / "t/local-only.html"));
    EXPECT_TRUE(push_one(dir / "src", dir / "t", options).already_in_sync);
}

namespace {

// The names in `folder` as the file system spells them.
std::set<std::string> names_in(const fs::path& folder) {
    std::set<std::string> names;
    for (fs::directory_iterator it(folder), end; it != end; ++it) names.insert(it->path().filename().string());
    return names;
}

// Through another name: Wine 8 keeps the old case on a case-only rename.
void rename_case(const fs::path& from, const fs::path& to) {
    fs::rename(from, from.parent_path() / ".case-rename");
    fs::rename(from.parent_path() / ".case-rename", to);
}

}  // namespace

// A case-only rename reaches a target that folds case (NTFS; Wine's view of
// a folder): the entry is renamed, not refused as already there, and no
// second copy or leftover stays behind. On a file system that keeps case
// apart it is a rename like any other.
TEST(Push, CaseOnlyRenameReachesTheTarget) {
    TempDir dir;
    write_file(dir / "src/Welcome.html", "welcome");
    write_file(dir / "src/Folder/Inner.html", "inner");
    fs::create_directories(dir / "t");
    ASSERT_TRUE(push_one(dir / "src", dir / "t").ok);
    rename_case(dir / "src/Welcome.html", dir / "src/welcome.html");
    rename_case(dir / "src/Folder", dir / "src/FOLDER");
    auto r = push_one(dir / "src", dir / "t");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_FALSE(r.already_in_sync);
    EXPECT_EQ(names_in(dir / "t"), (std::set<std::string>{".exmsync", "FOLDER", "welcome.html"}));
    EXPECT_EQ(names_in(dir / "t/FOLDER"), std::set<std::string>{"Inner.html"});
    EXPECT_EQ(read_file(dir / "t/welcome.html"), "welcome");
    EXPECT_EQ(tree_root(dir / "t"), tree_root(dir / "src"));
    EXPECT_TRUE(push_one(dir / "src", dir / "t").already_in_sync);
}

// IIS or an antivirus opens a file after the pre-flight looked and holds it
// past the local transport's 5 s of retries: the commit cannot move it, is
// undone, and the target is as it was, byte for byte, with the file named.
// Once the file is let go the next push completes. (POSIX lets an open file
// be renamed; failure_test makes the same step fail there with chattr +i.)
TEST(Push, FileHeldOpenThroughTheCommitIsUndoneAndNamed) {
#ifndef _WIN32
    GTEST_SKIP() << "an open file blocks no rename on POSIX; failure_test fails this step with chattr +i";
#endif
    TempDir dir;
    write_file(dir / "src/a.html", "old a");
    write_file(dir / "src/b.html", "old b");
    fs::create_directories(dir / "t");
    ASSERT_TRUE(push_one(dir / "src", dir / "t").ok);
    const auto before = tree_root(dir / "t");
    write_file(dir / "src/a.html", "new a");
    write_file(dir / "src/b.html", "new b");
    std::unique_ptr<std::ifstream> held;  // shares reading and writing, not deleting
    sync::PushOptions options;
    options.before_commit = [&] {
        held = std::make_unique<std::ifstream>(stream_path(dir / "t/b.html"), std::ios::binary);
        ASSERT_TRUE(*held);
    };
    auto r = push_one(dir / "src", dir / "t", options);
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("b.html"), std::string::npos) << r.error;
    EXPECT_NE(r.error.find("it is open in "), std::string::npos) << r.error;  // the holder, where it can be named
    EXPECT_NE(r.error.find("stop that program or wait"), std::string::npos) << r.error;
    held.reset();
    EXPECT_EQ(tree_root(dir / "t"), before);
    EXPECT_EQ(read_file(dir / "t/a.html"), "old a");
    EXPECT_EQ(read_file(dir / "t/b.html"), "old b");
    EXPECT_EQ(names_in(dir / "t"), (std::set<std::string>{".exmsync", "a.html", "b.html"}));
    auto again = push_one(dir / "src", dir / "t");
    ASSERT_TRUE(again.ok) << again.error;
    EXPECT_EQ(tree_root(dir / "t"), tree_root(dir / "src"));
    EXPECT_EQ(read_file(dir / "t/b.html"), "new b");
}

// A live process of this host holds the lock (a waiting child stands in for it).
TEST(Lock, SecondApplyFailsNamingTheHolder) {
    TempDir dir;
    TreeMaker(12).make(dir / "src");
    fs::create_directories(dir / "t/.exmsync");
    LiveProcess holder;
    const std::string pid = std::to_string(holder.pid());
    write_file(dir / "t/.exmsync/lock", "host=" + platform::host_name() + "\npid=" + pid + "\nstarted=" +
                                           platform::process_start_time(holder.pid()) +
                                           "\nsince=2026-01-01T00:00:00Z\n");
    auto r = push_one(dir / "src", dir / "t");
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error_code, "locked");
    EXPECT_NE(r.error.find("locked by another exmsync (pid " + pid + " on"), std::string::npos) << r.error;
    EXPECT_FALSE(fs::exists(dir / "t/d0"));
    fs::remove(dir / "t/.exmsync/lock");
    EXPECT_TRUE(push_one(dir / "src", dir / "t").ok);
}

// This very process holding the lock is not "another exmsync".
TEST(Lock, HeldByThisRunSaysSo) {
    TempDir dir;
    TreeMaker(12).make(dir / "src");
    fs::create_directories(dir / "t");
    auto t = transport::make_local_transport(dir / "t");
    sync::StateFolder state(*t);
    sync::TargetLock held(state);
    auto r = push_one(dir / "src", dir / "t");
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("already being applied by this run"), std::string::npos) << r.error;
    held.release();
    EXPECT_TRUE(push_one(dir / "src", dir / "t").ok);
}

// A pid reused by a later process does not keep a dead run's lock alive.
TEST(Lock, ReusedPidIsStale) {
    TempDir dir;
    fs::create_directories(dir / "t/.exmsync");
    LiveProcess holder;  // alive, but not the process that started at "1"
    write_file(dir / "t/.exmsync/lock", "host=" + platform::host_name() + "\npid=" + std::to_string(holder.pid()) +
                                           "\nstarted=1\nsince=2026-01-01T00:00:00Z\n");
    auto t = transport::make_local_transport(dir / "t");
    sync::StateFolder state(*t);
    try {
        sync::TargetLock lock(state);
        FAIL() << "taken";
    } catch (const sync::LockedError& e) {
        EXPECT_NE(std::string(e.what()).find("stale lock"), std::string::npos) << e.what();
    }
    sync::TargetLock lock(state, true);
    EXPECT_TRUE(lock.broke_stale_lock());
}

// A run that finds the lock just created by a live run, before its owner is
// written into it, names that owner once it is in: it never calls a live run
// dead (seen in CI when two applies started together).
TEST(Lock, LockReadBeforeItsOwnerIsInNamesTheOwner) {
    TempDir dir;
    fs::create_directories(dir / "t/.exmsync");
    LiveProcess holder;
    write_file(dir / "t/.exmsync/lock", "");
    std::thread owner([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(150));
        std::ofstream(dir / "t/.exmsync/lock") << "host=" << platform::host_name() << "\npid=" << holder.pid()
                                               << "\nstarted=" << platform::process_start_time(holder.pid())
                                               << "\nsince=2026-01-01T00:00:00Z\n";
    });
    auto t = transport::make_local_transport(dir / "t");
    sync::StateFolder state(*t);
    try {
        sync::TargetLock lock(state, true);
        ADD_FAILURE() << "a live run's lock was taken";
    } catch (const sync::LockedError& e) {
        EXPECT_NE(std::string(e.what()).find("locked by another exmsync (pid " + std::to_string(holder.pid())),
                  std::string::npos)
            << e.what();
    } catch (...) {
        owner.join();
        throw;
    }
    owner.join();
}

// An empty lock older than a live run would leave it is stale: refused as
// such, and broken when asked to.
TEST(Lock, OldEmptyLockIsStale) {
    TempDir dir;
    fs::create_directories(dir / "t/.exmsync");
    write_file(dir / "t/.exmsync/lock", "");
    fs::last_write_time(dir / "t/.exmsync/lock", std::time(nullptr) - 60);
    auto t = transport::make_local_transport(dir / "t");
    sync::StateFolder state(*t);
    try {
        sync::TargetLock lock(state, false);
        ADD_FAILURE() << "a stale lock was taken without breaking it";
    } catch (const sync::LockedError& e) {
        EXPECT_NE(std::string(e.what()).find("stale lock from a run that died while taking the lock, which is no "
                                             "longer running; run 'exmsync recover"),
                  std::string::npos)
            << e.what();
    }
    sync::TargetLock lock(state, true);
    EXPECT_TRUE(lock.broke_stale_lock());
}

// An empty lock that stays empty but is young may still be being taken: it
// is refused, saying so, and not broken. (Dated ahead, so that it stays young
// however long a busy machine takes over the looks.)
TEST(Lock, YoungEmptyLockIsRefusedNotBroken) {
    TempDir dir;
    fs::create_directories(dir / "t/.exmsync");
    write_file(dir / "t/.exmsync/lock", "");
    fs::last_write_time(dir / "t/.exmsync/lock", std::time(nullptr) + 30);
    auto t = transport::make_local_transport(dir / "t");
    sync::StateFolder state(*t);
    try {
        sync::TargetLock lock(state, true);
        ADD_FAILURE() << "a lock being taken was broken";
    } catch (const sync::LockedError& e) {
        EXPECT_NE(std::string(e.what()).find("still taking the lock, or died while taking it"), std::string::npos)
            << e.what();
    }
    EXPECT_TRUE(fs::exists(dir / "t/.exmsync/lock"));
}

// The scheduled push after a crash needs no operator: the dead run's lock
// is taken over, and said so.
TEST(Lock, StaleLockIsBrokenByTheNextPush) {
    TempDir dir;
    TreeMaker(13).make(dir / "src");
    fs::create_directories(dir / "t/.exmsync");
    std::int64_t pid = dead_pid();
    write_file(dir / "t/.exmsync/lock", "host=" + platform::host_name() + "\npid=" + std::to_string(pid) +
                                           "\nsince=2026-01-01T00:00:00Z\n");
    auto t = transport::make_local_transport(dir / "t");
    sync::StateFolder state(*t);
    EXPECT_THROW(sync::TargetLock(state, false), sync::LockedError);
    auto r = push_one(dir / "src", dir / "t");
    EXPECT_TRUE(r.ok) << r.error;
    ASSERT_FALSE(r.notes.empty());
    EXPECT_NE(r.notes[0].find("removed a stale lock from pid " + std::to_string(pid)), std::string::npos)
        << r.notes[0];
    EXPECT_FALSE(fs::exists(dir / "t/.exmsync/lock"));
}

TEST(Lock, LockOfAnotherHostIsNeverBrokenAutomatically) {
    TempDir dir;
    fs::create_directories(dir / "t/.exmsync");
    write_file(dir / "t/.exmsync/lock", "host=some-other-cm\npid=1\nsince=2026-01-01T00:00:00Z\n");
    auto t = transport::make_local_transport(dir / "t");
    try {
        sync::DirectTarget(*t).open(true);
        FAIL();
    } catch (const sync::LockedError& e) {
        EXPECT_NE(std::string(e.what()).find("some-other-cm"), std::string::npos);
    }
}
