// All or nothing under failures: a target that refuses something halfway.
// Each test makes a real server's refusal happen for real where the kernel
// allows it (an immutable file, a tmpfs out of room or inodes, a tmpfs
// mounted inside the target, a file that appears mid-commit), and checks that
// the target is byte for byte the old or the new tree afterwards, its state
// folder clean, and that a push after the cause is removed completes. Where
// the machine cannot provide the fault the test says so and skips; the crash
// suite's fault-injecting transport covers the same steps everywhere.
#include <gtest/gtest.h>

#include <functional>
#include <sys/wait.h>

#include "support/fault_fs.hpp"
#include "support/faulty_transport.hpp"
#include "support/random_tree.hpp"
#include "support/tree_root.hpp"
#include "sync/apply.hpp"
#include "sync/feeds.hpp"
#include "sync/push.hpp"
#include "sync/rollback.hpp"
#include "transport/local.hpp"

using namespace exmsync;
using namespace exmsync::testing;

namespace {

sync::PushOptions no_cache() {
    sync::PushOptions o;
    o.use_cache = false;  // sources change within the racy window in these tests
    return o;
}

sync::TargetResult push_one(const fs::path& source, const fs::path& target, sync::PushOptions options = no_cache()) {
    return sync::push(source.string(), {target.string()}, options).targets.at(0);
}

// What an apply must never leave behind; empty when clean.
std::string leftovers(const fs::path& target) {
    std::string found;
    fs::path state = target / ".exmsync";
    for (const char* name : {"lock", "journal", "journal.new", "undo", "current.new"})
        if (fs::exists(state / name)) found += std::string(" ") + name;
    if (fs::exists(state / "staging") && !fs::is_empty(state / "staging")) found += " staging";
    if (fs::exists(state / "backup"))
        for (fs::directory_iterator it(state / "backup"), end; it != end; ++it)
            if (!fs::exists(state / "history" / (it->path().filename().string() + ".json")))
                found += " orphan-backup/" + it->path().filename().string();
    return found;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

#define SKIP_UNLESS(why)                           \
    do {                                           \
        std::string reason_ = (why);               \
        if (!reason_.empty()) GTEST_SKIP() << reason_; \
    } while (0)

// A source and a target pushed once, with a change pending in the source.
class Failure : public ::testing::Test {
protected:
    void SetUp() override {
        write_file(src / "a.html", "<html>a</html>");
        write_file(src / "gone/x.html", "<html>x</html>");
        write_file(src / "gone/y.html", "<html>y</html>");
        write_file(src / "keep/k.html", "<html>k</html>");
        write_file(src / "zz/last.html", "<html>last</html>");
        write_file(src / "App_Config/Sitecore.EXM.config", "<configuration/>");
        fs::create_directories(target);
        auto first = push_one(src, target);
        ASSERT_TRUE(first.ok) << first.error;
        old_root = tree_root(target);
        // The change: modified files early and late in the order, a folder
        // removed, a new folder, a config.
        write_file(src / "a.html", "<html>a, changed</html>");
        write_file(src / "zz/last.html", "<html>last, changed</html>");
        fs::remove_all(src / "gone");
        write_file(src / "new/deeper/n.html", "<html>n</html>");
        write_file(src / "App_Config/Sitecore.EXM.config", "<configuration changed/>");
        new_root = tree_root(src);
    }

    void TearDown() override {
        if (fs::exists(target / "zz/last.html")) set_immutable(target / "zz/last.html", false);
        if (fs::exists(target / "a.html")) set_immutable(target / "a.html", false);
    }

    void expect_old_and_clean(const std::string& what) {
        EXPECT_EQ(tree_root(target), old_root) << what << ": the target changed";
        EXPECT_EQ(leftovers(target), "") << what;
    }

    // The target on a small volume, and a source change that adds one file
    // thirty new folders deep; then room for staging one file, not for
    // thirty more folders.
    void deep_file_on_few_inodes(Tmpfs& mount, const std::string& name) {
        target = dir / "small/t";
        fs::create_directories(target);
        ASSERT_TRUE(push_one(src, target).ok);
        old_root = tree_root(target);
        std::string deep = "many";
        for (int i = 0; i < 30; ++i) deep += "/f" + std::to_string(i);
        write_file(src / deep / name, "x");
        new_root = tree_root(src);
        ASSERT_TRUE(mount.remount("nr_inodes=" + std::to_string(mount.used_inodes() + 20)));
    }

    // Leaves the target as the last crash point of a push (counting back
    // from its end) where `state` holds; false when there is none.
    bool crash_where(const std::function<bool()>& state);
    // ... where new/deeper/n.html is placed and the commit journaled but not
    // yet recorded.
    bool crash_with_new_placed();

    // What recover says when it cannot go either way (BlockedError), or ""
    // with a failure when it recovered.
    std::string recovery_blocked(transport::Transport& t) {
        try {
            sync::DirectTarget(t).open(true);
        } catch (const sync::BlockedError& e) {
            return e.what();
        }
        ADD_FAILURE() << "recovered though neither direction should be possible";
        return "";
    }

    void expect_push_completes() {
        auto r = push_one(src, target);
        ASSERT_TRUE(r.ok) << r.error;
        EXPECT_EQ(tree_root(target), new_root);
        EXPECT_EQ(leftovers(target), "");
    }

    TempDir dir;
    fs::path src = dir / "src";
    fs::path target = dir / "t";
    manifest::Hash128 old_root, new_root;
};

}  // namespace

// ---- refused by the pre-flight: nothing moves --------------------------------

TEST_F(Failure, ImmutableFileIsRefusedBeforeAnythingMoves) {
    SKIP_UNLESS(set_immutable(target / "zz/last.html", true));
    auto r = push_one(src, target);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error_code, "refused");
    EXPECT_TRUE(contains(r.error, "'zz/last.html' cannot be moved: it is immutable")) << r.error;
    EXPECT_TRUE(contains(r.error, "chattr -i")) << r.error;
    EXPECT_TRUE(contains(r.error, "nothing was changed")) << r.error;
    expect_old_and_clean("refused");
    set_immutable(target / "zz/last.html", false);
    expect_push_completes();
}

TEST_F(Failure, FolderOnAnotherVolumeIsRefusedNamingTheMount) {
    Tmpfs mount(target / "keep", "size=1m");
    SKIP_UNLESS(mount.why_not());
    write_file(target / "keep/k.html", "<html>k</html>");
    old_root = tree_root(target);
    write_file(src / "keep/k.html", "<html>k, changed</html>");
    auto r = push_one(src, target);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error_code, "refused");
    EXPECT_TRUE(contains(r.error, "'keep/k.html' is on another volume")) << r.error;
    EXPECT_TRUE(contains(r.error, "a mount point at 'keep'")) << r.error;
    EXPECT_TRUE(contains(r.error, "or exclude it")) << r.error;
    expect_old_and_clean("another volume");
    // The advice works: left out, the rest is pushed.
    auto options = no_cache();
    options.filter.exclude = {"keep"};
    auto excluded = push_one(src, target, options);
    EXPECT_TRUE(excluded.ok) << excluded.error;
    EXPECT_EQ(read_file(target / "keep/k.html"), "<html>k</html>");
    EXPECT_EQ(read_file(target / "a.html"), "<html>a, changed</html>");
}

TEST_F(Failure, TooFewInodesForTheNewFoldersIsRefused) {
    Tmpfs mount(dir / "small", "size=4m,nr_inodes=400");
    SKIP_UNLESS(mount.why_not());
    // A configuration file keeps the new folders from being staged whole:
    // the commit makes them, and the pre-flight counts them.
    ASSERT_NO_FATAL_FAILURE(deep_file_on_few_inodes(mount, "x.config"));
    auto r = push_one(src, target);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error_code, "refused") << r.error;
    EXPECT_TRUE(contains(r.error, "free inodes")) << r.error;
    EXPECT_TRUE(contains(r.error, "free some on the target")) << r.error;
    expect_old_and_clean("inodes");
    ASSERT_TRUE(mount.remount("nr_inodes=4000"));
    expect_push_completes();
}

// New folders staged whole take their inodes while staging: too few is a
// clean refusal before anything on the target moves.
TEST_F(Failure, TooFewInodesForAFolderStagedWholeIsRefusedWhileStaging) {
    Tmpfs mount(dir / "small", "size=4m,nr_inodes=400");
    SKIP_UNLESS(mount.why_not());
    ASSERT_NO_FATAL_FAILURE(deep_file_on_few_inodes(mount, "x.html"));
    auto r = push_one(src, target);
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(contains(r.error, "No space left on device")) << r.error;
    expect_old_and_clean("inodes while staging");
    ASSERT_TRUE(mount.remount("nr_inodes=4000"));
    expect_push_completes();
}

TEST_F(Failure, FullDiskWhileStagingIsACleanRefusal) {
    Tmpfs mount(dir / "small", "size=2m");
    SKIP_UNLESS(mount.why_not());
    target = dir / "small/t";
    fs::create_directories(target);
    auto first = push_one(src, target);
    ASSERT_TRUE(first.ok) << first.error;
    old_root = tree_root(target);
    write_file(src / "big.png", std::string(3 << 20, 'x'));
    new_root = tree_root(src);
    auto r = push_one(src, target);
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(contains(r.error, "No space left on device")) << r.error;
    EXPECT_TRUE(contains(r.error, "free space on the target")) << r.error;
    expect_old_and_clean("full disk");
    ASSERT_TRUE(mount.remount("size=16m"));
    expect_push_completes();
}

// A folder the source removed holds a file someone put there after the scan.
TEST_F(Failure, FileNewInARemovedFolderIsRefusedByThePreflight) {
    auto t = transport::make_local_transport(target);
    sync::DirectTarget direct(*t);
    direct.open();
    sync::TempFile actual, hidden;
    direct.scan({}, actual.path(), hidden.path());
    write_file(target / "gone/arrived.html", "<html>after the scan</html>");
    auto source = sync::PushSource::open(src.string(), no_cache());
    auto plan = sync::make_plan({actual.path(), source->manifest->path(), hidden.path(),
                                 [&](const std::string& p) { return manifest::stat_path(src / p).mtime_ns; }, {}},
                                {});
    sync::Changeset cs{plan->header, plan->ops.path()};
    auto source_tree = transport::make_local_transport(src);
    sync::TreeFeed feed(*source_tree, cs, plan->new_manifest.path());
    try {
        direct.apply(cs, feed, actual.path(), {});
        FAIL() << "applied";
    } catch (const sync::PreflightError& e) {
        EXPECT_TRUE(contains(e.what(), "folder 'gone' still holds 'gone/arrived.html'")) << e.what();
    }
    direct.close();
    EXPECT_EQ(read_file(target / "gone/arrived.html"), "<html>after the scan</html>");
    EXPECT_EQ(read_file(target / "gone/x.html"), "<html>x</html>");
    EXPECT_EQ(leftovers(target), "");
}

// ---- refused halfway through the commit: undone ------------------------------

TEST_F(Failure, ImmutableAfterThePreflightIsUndone) {
    SKIP_UNLESS(set_immutable(target / "keep/k.html", true));  // can this machine?
    set_immutable(target / "keep/k.html", false);
    auto options = no_cache();
    // Made immutable where no pre-flight can see it; the commit has moved
    // earlier files by the time it reaches this one.
    options.before_commit = [&] { set_immutable(target / "zz/last.html", true); };
    auto r = push_one(src, target, options);
    set_immutable(target / "zz/last.html", false);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error_code, "undone");
    EXPECT_TRUE(contains(r.error, "could not commit")) << r.error;
    EXPECT_TRUE(contains(r.error, "'zz/last.html'")) << r.error;
    EXPECT_TRUE(contains(r.error, "the commit was undone and the target is exactly as it was")) << r.error;
    expect_old_and_clean("undone");
    expect_push_completes();
}

TEST_F(Failure, InodesRunningOutDuringTheCommitAreUndone) {
    Tmpfs mount(dir / "vol", "size=8m,nr_inodes=2000");
    SKIP_UNLESS(mount.why_not());
    // The old tree, with its history, on a small volume.
    ASSERT_EQ(run("cp -a " + shell_quote(target.string()) + " " + shell_quote((dir / "vol/t").string())).exit_code, 0);
    target = dir / "vol/t";
    // A new folder holding a configuration file is made by the commit
    // (folders staged whole are made while staging).
    write_file(src / "App_Config/Include/New/Sitecore.New.config", "<new/>");
    new_root = tree_root(src);
    auto options = no_cache();
    // Every inode left goes to another user of the volume just before the
    // commit: creating the new folders fails with ENOSPC.
    options.before_commit = [&] { use_up_inodes(dir / "vol/filler"); };
    auto r = push_one(src, target, options);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error_code, "undone") << r.error;
    EXPECT_TRUE(contains(r.error, "No space left on device")) << r.error;
    expect_old_and_clean("inodes ran out");
    fs::remove_all(dir / "vol/filler");
    expect_push_completes();
}

TEST_F(Failure, FileAppearingInARemovedFolderDuringTheCommitIsUndone) {
    auto options = no_cache();
    options.before_commit = [&] { write_file(target / "gone/late.html", "<html>too late</html>"); };
    auto r = push_one(src, target, options);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error_code, "undone") << r.error;
    EXPECT_TRUE(contains(r.error, "'gone'")) << r.error;
    EXPECT_EQ(read_file(target / "gone/late.html"), "<html>too late</html>");
    fs::remove(target / "gone/late.html");
    expect_old_and_clean("undone");
    expect_push_completes();
}

// ---- recovery never takes someone else's file for its own -------------------

namespace {

// Ends a push right after operation `n`, as a crash would.
void crash_push_at(const fs::path& src, const fs::path& target, std::uint64_t n) {
    pid_t child = ::fork();
    if (child == 0) {
        try {
            auto source = sync::PushSource::open(src.string(), no_cache());
            auto local = transport::make_local_transport(target);
            FaultyTransport faulty(*local, n, FaultMode::Exit);
            sync::push_to(faulty, target.string(), *source, no_cache());
        } catch (...) {
        }
        std::_Exit(0);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
}

// The journaled apply has not reached history yet.
bool recording_pending(const fs::path& target) {
    for (fs::directory_iterator it(target / ".exmsync/staging"), end; it != end; ++it)
        if (fs::exists(it->path() / "record.json")) return true;
    return false;
}

std::uint64_t count_push_operations(const fs::path& src, const fs::path& target) {
    TempDir scratch;
    copy_tree(target, scratch / "probe");
    auto source = sync::PushSource::open(src.string(), no_cache());
    auto local = transport::make_local_transport(scratch / "probe");
    FaultyTransport counting(*local);
    sync::push_to(counting, "probe", *source, no_cache());
    return counting.operations();
}

}  // namespace

bool Failure::crash_where(const std::function<bool()>& state) {
    std::uint64_t total = count_push_operations(src, target);
    TempDir pristine;
    copy_tree(target, pristine / "t");
    for (std::uint64_t n = total; n > 0; --n) {
        fs::remove_all(target);
        copy_tree(pristine / "t", target);
        crash_push_at(src, target, n);
        if (state()) return true;
    }
    return false;
}

bool Failure::crash_with_new_placed() {
    // Placed, and the commit not yet recorded (a recorded one is complete).
    return crash_where([&] {
        return fs::exists(target / ".exmsync/journal") && fs::exists(target / "new/deeper/n.html") &&
               recording_pending(target);
    });
}

// A crash before keep/added.html was moved into place; someone then puts
// their own keep/added.html there. Recovery must not count it as done: it
// undoes the commit and keeps their file.
TEST_F(Failure, RecoverDoesNotCountForeignContentAsDone) {
    write_file(src / "keep/added.html", "<html>added</html>");
    new_root = tree_root(src);
    ASSERT_TRUE(crash_where([&] {
        return fs::exists(target / ".exmsync/journal") && !fs::exists(target / "keep/added.html");
    })) << "no crash point left keep/added.html unplaced";
    write_file(target / "keep/added.html", "<html>someone else's</html>");
    auto t = transport::make_local_transport(target);
    sync::DirectTarget direct(*t);
    auto report = direct.open(true);
    direct.close();
    EXPECT_TRUE(report.finished_apply.empty());
    EXPECT_FALSE(report.undone_apply.empty());
    EXPECT_EQ(read_file(target / "keep/added.html"), "<html>someone else's</html>");
    EXPECT_EQ(leftovers(target), "");
    fs::remove(target / "keep/added.html");
    EXPECT_EQ(tree_root(target), old_root);
}

// A file the commit placed is changed by hand before a crash is recovered:
// neither finishing (its content is not the new one) nor undoing (the content
// is not the apply's to take back) is possible. The target stays locked with
// one line naming the path and what to do, and doing it works.
TEST_F(Failure, NeitherDirectionPossibleStaysLockedWithAdviceThatWorks) {
    ASSERT_TRUE(crash_with_new_placed()) << "no crash point left new/deeper/n.html placed";
    write_file(target / "new/deeper/n.html", "<html>edited by hand mid-apply</html>");
    auto t = transport::make_local_transport(target);
    std::string m = recovery_blocked(*t);
    EXPECT_TRUE(contains(m, "'new/deeper/n.html'")) << m;
    EXPECT_TRUE(contains(m, "move it aside")) << m;
    EXPECT_TRUE(contains(m, "exmsync recover " + target.string())) << m;
    EXPECT_EQ(std::count(m.begin(), m.end(), '\n'), 0) << m;
    EXPECT_TRUE(fs::exists(target / ".exmsync/lock"));
    // The next push meets the same block, and says the same.
    auto blocked = push_one(src, target);
    EXPECT_EQ(blocked.error_code, "blocked") << blocked.error;
    EXPECT_TRUE(contains(blocked.error, "move it aside")) << blocked.error;
    // The advice: move it aside, run recover.
    fs::rename(target / "new/deeper/n.html", dir / "aside.html");
    sync::DirectTarget direct(*t);
    auto report = direct.open(true);
    direct.close();
    EXPECT_FALSE(report.undone_apply.empty());
    EXPECT_EQ(tree_root(target), old_root);
    EXPECT_EQ(leftovers(target), "");
    expect_push_completes();
}

// A new folder moved into place whole, then a file someone put in it, and
// the commit is to be undone: moving the folder back to staging would take
// that file away with it, so the undo stops naming it, the file stays, and
// once it is moved aside recover takes the folder back.
TEST_F(Failure, UndoOfANewFolderMovedWholeKeepsAFileAddedInIt) {
    ASSERT_TRUE(crash_with_new_placed()) << "no crash point left new/deeper/n.html placed";
    // The direction is back, as after a refusal later in the commit.
    for (fs::directory_iterator it(target / ".exmsync/staging"), end; it != end; ++it)
        if (fs::exists(it->path() / "undo")) fs::rename(it->path() / "undo", target / ".exmsync/undo");
    ASSERT_TRUE(fs::exists(target / ".exmsync/undo"));
    write_file(target / "new/deeper/someone-else.html", "<html>not the apply's</html>");
    auto t = transport::make_local_transport(target);
    std::string m = recovery_blocked(*t);
    EXPECT_TRUE(contains(m, "'new/deeper/someone-else.html'")) << m;
    EXPECT_TRUE(contains(m, "move it aside")) << m;
    EXPECT_EQ(read_file(target / "new/deeper/someone-else.html"), "<html>not the apply's</html>");
    fs::rename(target / "new/deeper/someone-else.html", dir / "aside.html");
    auto again = transport::make_local_transport(target);
    sync::DirectTarget direct(*again);
    direct.open(true);
    direct.close();
    expect_old_and_clean("undone after the file was moved aside");
    expect_push_completes();
}

// ---- durability: state files cut by a power cut -----------------------------

TEST_F(Failure, TruncatedJournalIsDiscardedWithANote) {
    write_file(target / ".exmsync/journal", "exmsync-journal\t1\t000002-0123456789abcdef\nbackup\tf\t3");
    write_file(target / ".exmsync/staging/000002-0123456789abcdef/files/0/0", "staged");
    auto t = transport::make_local_transport(target);
    sync::DirectTarget direct(*t);
    auto report = direct.open(true);
    direct.close();
    EXPECT_TRUE(report.discarded_journal);
    ASSERT_FALSE(report.notes.empty());
    EXPECT_TRUE(contains(report.notes[0], "cut before its commit began")) << report.notes[0];
    expect_old_and_clean("discarded");
    expect_push_completes();
}

TEST_F(Failure, EmptyOrMissingCurrentIsRebuilt) {
    for (const char* damage : {"empty", "missing", "half"}) {
        std::string text = read_file(target / ".exmsync/current");
        if (std::string(damage) == "empty") write_file(target / ".exmsync/current", "");
        else if (std::string(damage) == "missing") fs::remove(target / ".exmsync/current");
        else write_file(target / ".exmsync/current", text.substr(0, text.size() / 2));
        // A push works regardless, and says nothing false.
        auto r = push_one(src, target);
        ASSERT_TRUE(r.ok) << damage << ": " << r.error;
        EXPECT_EQ(r.drift_count, 0u) << damage;
        auto t = transport::make_local_transport(target);
        sync::StateFolder state(*t);
        auto current = sync::History(state).current_file();
        ASSERT_TRUE(current) << damage;
        EXPECT_EQ(current->root, tree_root(target)) << damage;
        fs::remove_all(src / "new");
        new_root = tree_root(src);
    }
}

// ---- which folders are which ------------------------------------------------

TEST_F(Failure, OverlappingTargetsAreRefusedBeforeAnything) {
    fs::create_symlink(target, dir / "alias");
    auto refused = [&](const std::string& source, std::vector<std::string> targets, const char* why) {
        try {
            sync::push(source, targets, no_cache());
            ADD_FAILURE() << "accepted " << why;
        } catch (const sync::UsageError& e) {
            EXPECT_TRUE(contains(e.what(), why)) << e.what();
        }
    };
    auto before = tree_root(target);
    refused(src.string(), {src.string()}, "is the source itself");
    refused((target / "keep").string(), {target.string()}, "holds the source");
    refused(target.string(), {(target / "keep").string()}, "lies inside the source");
    refused(src.string(), {target.string(), (dir / "alias").string()}, "is listed twice");
    refused(src.string(), {target.string(), target.string() + "/"}, "is listed twice");
    EXPECT_EQ(tree_root(target), before);
    EXPECT_FALSE(fs::exists(target / "keep/.exmsync"));
    EXPECT_FALSE(fs::exists(src / ".exmsync"));
}

// ---- what a filter leaves out ------------------------------------------------

TEST_F(Failure, FilteredPushKeepsTargetOnlyFoldersAndExcludedFiles) {
    write_file(target / "App_Data/logs/today.log", "log");
    write_file(target / "gone/Thumbs.db", "explorer");
    auto options = no_cache();
    options.filter.include = {"**/*.html", "**/*.config"};
    auto r = push_one(src, target, options);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(read_file(target / "App_Data/logs/today.log"), "log");
    EXPECT_EQ(read_file(target / "gone/Thumbs.db"), "explorer");
    EXPECT_FALSE(fs::exists(target / "gone/x.html"));  // what the source removed still goes
    bool noted = false;
    for (const auto& n : r.notes) noted = noted || contains(n, "kept 'gone': it holds files outside the sync set");
    EXPECT_TRUE(noted);
    EXPECT_EQ(r.drift_count, 0u);
    // Stable: the next push is in sync, and excluded files are never drift.
    write_file(target / "keep/desktop.ini", "explorer");
    write_file(target / "App_Data/logs/tomorrow.log", "log");
    auto again = push_one(src, target, options);
    ASSERT_TRUE(again.ok) << again.error;
    EXPECT_TRUE(again.already_in_sync);
    EXPECT_EQ(again.drift_count, 0u);
    // A filter change is not drift either.
    auto wider = push_one(src, target);
    ASSERT_TRUE(wider.ok) << wider.error;
    EXPECT_EQ(wider.drift_count, 0u);
}

// ---- names --------------------------------------------------------------------

TEST_F(Failure, UnportableSourceNamesAreRefusedBeforeAnythingIsWritten) {
    TempDir empty;
    write_file(src / "web.config:payload", "ads");
    write_file(src / "CON.html", "device");
    write_file(src / "promo.html.", "dot");
    write_file(src / "tab\\name.html", "backslash");
    write_file(src / "Promo.html", "one");
    write_file(src / "promo.html", "two");
    try {
        sync::push(src.string(), {empty.path().string()}, no_cache());
        FAIL() << "pushed";
    } catch (const sync::UsageError& e) {
        std::string m = e.what();
        EXPECT_EQ(std::string(e.code()), "unportable-names");
        for (const char* part : {"'web.config:payload' holds ':'", "'CON.html' is a reserved device name",
                                 "'promo.html.' ends with a dot or space", "'tab\\\\name.html' holds '\\'",
                                 "differ only in case", "nothing was pushed", "--allow-unportable-names"})
            EXPECT_TRUE(contains(m, part)) << part << " in " << m;
    }
    EXPECT_TRUE(fs::is_empty(empty.path()));
    auto options = no_cache();
    options.plan.portable = false;
    auto r = push_one(src, empty.path(), options);
    EXPECT_TRUE(r.ok) << r.error;
    EXPECT_EQ(read_file(empty / "web.config:payload"), "ads");
}

// On a Linux target a file named with a backslash is an ordinary extra file.
TEST_F(Failure, TargetFileWithABackslashIsRemovedLikeAnyOther) {
    write_file(target / "odd\\name.html", "dropped by another tool");
    expect_push_completes();
    EXPECT_FALSE(fs::exists(target / "odd\\name.html"));
}

TEST_F(Failure, NoDeleteConflictIsNamedNotInternal) {
    write_file(src / "keep", "a file where the target has a folder");
    fs::rename(src / "keep/k.html", dir / "k.html");
    fs::remove_all(src / "keep");
    write_file(src / "keep", "a file where the target has a folder");
    auto options = no_cache();
    options.plan.deletes = false;
    auto r = push_one(src, target, options);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error_code, "conflict");
    EXPECT_TRUE(contains(r.error, "'keep' is a folder on the target but a file in the source")) << r.error;
    EXPECT_TRUE(contains(r.error, "--no-delete")) << r.error;
    expect_old_and_clean("conflict");
}

// ---- a consistent source -----------------------------------------------------

TEST_F(Failure, SourceChangedAfterItsScanRefusesThePush) {
    auto source = sync::PushSource::open(src.string(), no_cache());
    write_file(src / "a.html", "<html>a, changed again while pushing</html>");
    auto t = transport::make_local_transport(target);
    try {
        sync::push_to(*t, target.string(), *source, no_cache());
        FAIL() << "pushed";
    } catch (const sync::SourceChanged& e) {
        EXPECT_TRUE(contains(e.what(), "'a.html' changed")) << e.what();
        EXPECT_TRUE(contains(e.what(), "during the push, so nothing was sent")) << e.what();
        EXPECT_TRUE(contains(e.what(), "run the push again")) << e.what();
    }
    expect_old_and_clean("source changed");
}

// A file read and staged, then changed before the push is done: caught by
// the feed's last check, so no target gets a mix of two moments.
TEST_F(Failure, SourceChangedAfterItWasReadIsCaughtAtTheEnd) {
    auto source = sync::PushSource::open(src.string(), no_cache());
    sync::TempFile empty_manifest;
    manifest::write_manifest(empty_manifest.path(), {});
    auto plan = sync::make_plan({empty_manifest.path(), source->manifest->path(), std::nullopt,
                                 [&](const std::string& p) { return manifest::stat_path(src / p).mtime_ns; }, {}},
                                {});
    sync::Changeset cs{plan->header, plan->ops.path()};
    auto tree = transport::make_local_transport(src);
    sync::TreeFeed feed(*tree, cs, plan->new_manifest.path());
    feed.each([](const std::string&, std::uint64_t, transport::Reader& r) {
        char buffer[4096];
        while (r.read(buffer, sizeof buffer)) {
        }
    });
    EXPECT_NO_THROW(feed.check_unchanged());
    fs::last_write_time(src / "a.html", fs::last_write_time(src / "a.html") + 10);
    EXPECT_THROW(feed.check_unchanged(), sync::SourceChanged);
}

// ---- history from the start --------------------------------------------------

TEST_F(Failure, RollbackTo000000RestoresTheHandKeptFolder) {
    TempDir hand;
    write_file(hand / "a.html", "<html>hand-kept a</html>");      // replaced by the push
    write_file(hand / "old/only.html", "<html>only here</html>");  // removed by the push
    write_file(hand / "keep/k.html", "<html>k</html>");            // the same as the source
    write_file(hand / "Thumbs.db", "excluded: never touched");
    fs::last_write_time(hand / "a.html", 1500000000);
    auto before = tree_root(hand.path());
    auto a_mtime = fs::last_write_time(hand / "a.html");
    ASSERT_TRUE(push_one(src, hand.path()).ok);
    write_file(src / "a.html", "<html>a, third version</html>");
    ASSERT_TRUE(push_one(src, hand.path()).ok);
    ASSERT_NE(tree_root(hand.path()), before);

    auto t = transport::make_local_transport(hand.path());
    auto report = sync::rollback(*t, "000000", {});
    EXPECT_EQ(report.to_apply, "000000");
    EXPECT_EQ(tree_root(hand.path()), before);
    EXPECT_EQ(read_file(hand / "a.html"), "<html>hand-kept a</html>");
    EXPECT_EQ(fs::last_write_time(hand / "a.html"), a_mtime);
    EXPECT_EQ(read_file(hand / "Thumbs.db"), "excluded: never touched");
    EXPECT_EQ(leftovers(hand.path()), "");
}
