// `exmsync push`, `pack` and `apply` end to end: the built binary against
// real folders, checked with rsync, stat and exmsync's own diff.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "cli/cli_support.hpp"

using namespace exmsync::testing;
using namespace exmsync::testing::cli;

namespace {

// rsync's checksum dry run: every line it prints is a difference (state folder excluded).
std::string rsync_differences(const fs::path& a, const fs::path& b) {
    auto r = run("rsync -rcni --delete --exclude=.exmsync " + q(a.string() + "/") + " " + q(b.string() + "/"));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
}

// Files whose mtime (to the nanosecond) differs between the two trees.
std::string mtime_differences(const fs::path& a, const fs::path& b) {
    std::string out;
    int files = 0;
    for (fs::recursive_directory_iterator it(a), end; it != end; ++it) {
        if (it->path().filename() == ".exmsync") {
            it.disable_recursion_pending();
            continue;
        }
        if (!fs::is_regular_file(it->symlink_status())) continue;
        ++files;
        fs::path other = b / fs::relative(it->path(), a);
        struct stat sa {}, sb {};
        ::stat(it->path().c_str(), &sa);
        if (::stat(other.c_str(), &sb) != 0) {
            out += other.string() + " missing\n";
            continue;
        }
        if (sa.st_mtim.tv_sec != sb.st_mtim.tv_sec || sa.st_mtim.tv_nsec != sb.st_mtim.tv_nsec)
            out += fs::relative(it->path(), a).string() + ": " + std::to_string(sa.st_mtim.tv_sec) + "." +
                   std::to_string(sa.st_mtim.tv_nsec) + " vs " + std::to_string(sb.st_mtim.tv_sec) + "." +
                   std::to_string(sb.st_mtim.tv_nsec) + "\n";
    }
    EXPECT_GT(files, 0);
    return out;
}

// Sub-second mtimes on every source file, so a push that drops the
// nanoseconds shows.
void odd_mtimes(const fs::path& root) {
    std::int64_t n = 0;
    for (fs::recursive_directory_iterator it(root), end; it != end; ++it) {
        if (!fs::is_regular_file(it->symlink_status())) continue;
        struct timespec times[2] = {{0, UTIME_OMIT}, {1500000000 + n * 7, static_cast<long>(123456789 + n * 1111)}};
        ::utimensat(AT_FDCWD, it->path().c_str(), times, 0);
        ++n;
    }
}

std::string history_of(const fs::path& target) {
    auto r = cli_run("history --root " + q(target));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
}

class Push : public ::testing::Test {
protected:
    void SetUp() override {
        TreeMaker(11).make(src, 10);
        odd_mtimes(src);
        for (const auto& t : targets) fs::create_directories(t);
    }

    std::string targets_args() const {
        std::string s;
        for (const auto& t : targets) s += " " + q(t);
        return s;
    }

    void expect_identical_to_source() {
        for (const auto& t : targets) {
            SCOPED_TRACE(t.string());
            EXPECT_EQ(rsync_differences(src, t), "");
            EXPECT_EQ(mtime_differences(src, t), "");
            EXPECT_EQ(leftovers(t), "");
        }
    }

    TempDir dir, work;
    fs::path src = dir / "src";
    std::vector<fs::path> targets{dir / "T1", dir / "T2", dir / "T3"};
};

TEST_F(Push, MakesEveryTargetIdenticalWithMtimes) {
    // T2 starts with content of its own, T3 with another tree of the same
    // shape (every file of other content, so every file is written: a file
    // of equal content keeps its own mtime, as mtimes are not content).
    write_file(targets[1] / "only-on-target.html", "remove me");
    write_file(targets[1] / "d0/t1.html", "other content");
    TreeMaker(99).make(targets[2], 6);
    TreeMaker(98).mutate(targets[2]);
    // The checks below can see a difference.
    EXPECT_NE(rsync_differences(src, targets[2]), "");
    copy_tree(src, work / "copy");  // whole seconds only: every mtime differs
    EXPECT_EQ(rsync_differences(src, work / "copy"), "");
    EXPECT_NE(mtime_differences(src, work / "copy"), "");

    auto r = cli_run("push " + q(src) + targets_args());
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    for (const auto& t : targets) EXPECT_NE(r.out.find(t.string() + ": wrote"), std::string::npos) << r.out;
    expect_identical_to_source();
    EXPECT_FALSE(fs::exists(targets[1] / "only-on-target.html"));

    // Every kind of change, pushed on top (mtimes are not content: only the
    // files a push writes or renames take the source's mtime).
    TreeMaker(12).mutate(src);
    r = cli_run("push " + q(src) + targets_args());
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    for (const auto& t : targets) EXPECT_NE(r.out.find(t.string() + ": wrote"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("renamed 9"), std::string::npos) << r.out;
    expect_identical_to_source();
    for (const auto& t : targets) EXPECT_EQ(cli_run("diff " + q(src) + " " + q(t)).exit_code, 0);
}

TEST_F(Push, SecondPushIsInSyncAndChangesNothing) {
    auto first = cli_run("push " + q(src) + targets_args());
    ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
    std::vector<std::map<std::string, std::string>> trees;
    std::vector<std::string> histories;
    for (const auto& t : targets) {
        trees.push_back(tree_state(t));
        histories.push_back(history_of(t));
    }
    auto second = cli_run("push " + q(src) + targets_args());
    ASSERT_EQ(second.exit_code, 0) << second.out << second.err;
    std::string expected;
    for (const auto& t : targets) expected += t.string() + ": in sync\n";
    EXPECT_EQ(second.out, expected + "3 targets: 0 updated, 3 already in sync, 0 failed\n");
    for (std::size_t i = 0; i < targets.size(); ++i) {
        EXPECT_EQ(tree_state(targets[i]), trees[i]) << targets[i];
        EXPECT_EQ(history_of(targets[i]), histories[i]) << targets[i];
        EXPECT_EQ(leftovers(targets[i]), "");
    }
}

// `--cache NAME` with no folder in it: the cache is that file in the working
// folder, and the second push (later than the racy window of files just
// written) hashes nothing.
TEST_F(Push, ACacheNamedWithoutAFolderIsKept) {
    auto push = [&](int seconds) {
        return run("cd " + q(work.path()) + " && NO_FAKE_STAT=1 faketime -f +" + std::to_string(seconds) + "s " +
                   shell_quote(kExmsync) + " push --json --cache src.statcache " + q(src) + " " + q(targets[0]));
    };
    auto first = push(5);
    ASSERT_EQ(first.exit_code, 0) << first.err;
    EXPECT_EQ(first.err, "");
    EXPECT_TRUE(fs::exists(work / "src.statcache"));
    auto second = push(10);
    ASSERT_EQ(second.exit_code, 0) << second.err;
    EXPECT_EQ(nlohmann::json::parse(second.out)["source_stats"]["hashed_files"], 0) << second.out;
}

// A changeset packed against a target's manifest and applied there gives the
// same tree as a push to an identical copy of that target.
TEST_F(Push, PackAndApplyEqualsPush) {
    ASSERT_EQ(cli_run("push " + q(src) + " " + q(targets[0])).exit_code, 0);
    copy_tree(targets[0], targets[1]);  // (copy_tree keeps whole seconds only)
    TreeMaker(13).mutate(src);

    auto m = cli_run("manifest " + q(targets[0]) + " -o " + q(work / "m"));
    ASSERT_EQ(m.exit_code, 0) << m.err;
    auto p = cli_run("pack " + q(src) + " --base " + q(work / "m") + " -o " + q(work / "cs.tar.zst"));
    ASSERT_EQ(p.exit_code, 0) << p.err;
    EXPECT_NE(p.out.find("rename 9 files,"), std::string::npos) << p.out;
    auto a = cli_run("apply " + q(work / "cs.tar.zst") + " --root " + q(targets[0]));
    ASSERT_EQ(a.exit_code, 0) << a.err;
    auto push = cli_run("push " + q(src) + " " + q(targets[1]));
    ASSERT_EQ(push.exit_code, 0) << push.err;

    auto d = run("diff -r --no-dereference --exclude=.exmsync " + q(targets[0]) + " " + q(targets[1]));
    EXPECT_EQ(d.exit_code, 0) << d.out;
    EXPECT_EQ(d.out, "");
    EXPECT_EQ(cli_run("diff " + q(targets[0]) + " " + q(targets[1])).exit_code, 0);
    EXPECT_EQ(rsync_differences(src, targets[0]), "");
    EXPECT_EQ(mtime_differences(src, targets[0]), "");
    // Both record the same new state, and a push finds the applied one in sync.
    auto h = cli_run("history --root " + q(targets[0]) + " --json");
    ASSERT_EQ(h.exit_code, 0) << h.err;
    auto history = nlohmann::json::parse(h.out)["applies"];
    ASSERT_EQ(history.size(), 3u);
    EXPECT_EQ(history[0]["apply_id"], "000000");
    EXPECT_EQ(history[2]["kind"], "apply");
    EXPECT_EQ(history[2]["new_root"], root_of(manifest_of(src)));
    EXPECT_EQ(cli_run("push " + q(src) + " " + q(targets[0])).out,
              targets[0].string() + ": in sync\n1 target: 0 updated, 1 already in sync, 0 failed\n");
}

// pack -o - | apply -: stdout is the archive, so pack's summary (and its
// JSON object) goes to stderr; appended to the archive it made the far
// side refuse the whole changeset as damaged.
TEST_F(Push, PackToStdoutAppliesFromStdin) {
    ASSERT_EQ(cli_run("push " + q(src) + " " + q(targets[0])).exit_code, 0);
    TreeMaker(16).mutate(src);
    ASSERT_EQ(cli_run("manifest " + q(targets[0]) + " -o " + q(work / "m")).exit_code, 0);
    for (const std::string json : {"", " --json"}) {
        auto p = cli_run("pack" + json + " " + q(src) + " --base " + q(work / "m") + " -o - > " +
                         q(work / "piped.tar.zst"));
        ASSERT_EQ(p.exit_code, 0) << p.err;
        if (json.empty()) EXPECT_NE(p.err.find("-: changeset "), std::string::npos) << p.err;
        else EXPECT_EQ(nlohmann::json::parse(p.err.substr(p.err.find('{')))["archive"], "-") << p.err;
        auto f = cli_run("pack " + q(src) + " --base " + q(work / "m") + " -o " + q(work / "file.tar.zst"));
        ASSERT_EQ(f.exit_code, 0) << f.err;
        EXPECT_EQ(read_file(work / "piped.tar.zst"), read_file(work / "file.tar.zst"));
    }
    auto a = run(shell_quote(kExmsync) + " pack " + q(src) + " --base " + q(work / "m") + " -o - 2>/dev/null | " +
                 shell_quote(kExmsync) + " apply - " + q(targets[0]));
    ASSERT_EQ(a.exit_code, 0) << a.err;
    EXPECT_EQ(rsync_differences(src, targets[0]), "");
    // A failure's JSON object stays off the archive's stream too.
    auto bad = cli_run("pack --json " + q(src) + " --base " + q(work / "missing") + " -o -");
    EXPECT_EQ(bad.exit_code, 2) << bad.err;
    EXPECT_EQ(bad.out, "");
    EXPECT_NE(bad.err.find("\"error\""), std::string::npos) << bad.err;
}

TEST_F(Push, SamePackTwiceIsByteIdentical) {
    ASSERT_EQ(cli_run("push " + q(src) + " " + q(targets[0])).exit_code, 0);
    TreeMaker(14).mutate(src);
    ASSERT_EQ(cli_run("manifest " + q(targets[0]) + " -o " + q(work / "m")).exit_code, 0);
    auto one = cli_run("pack " + q(src) + " --base " + q(work / "m") + " -o " + q(work / "one.tar.zst"));
    ASSERT_EQ(one.exit_code, 0) << one.err;
    // A second scan with a warm cache, and the source's folders touched.
    fs::last_write_time(src / "d0", 1000000000);
    auto two = cli_run("pack " + q(src) + " --base " + q(work / "m") + " -o " + q(work / "two.tar.zst"));
    ASSERT_EQ(two.exit_code, 0) << two.err;
    auto three = cli_run("pack --no-cache " + q(src) + " --base " + q(work / "m") + " -o " + q(work / "three.tar.zst"));
    ASSERT_EQ(three.exit_code, 0) << three.err;
    std::string bytes = read_file(work / "one.tar.zst");
    EXPECT_GT(bytes.size(), 1000u);
    EXPECT_TRUE(bytes == read_file(work / "two.tar.zst"));
    EXPECT_TRUE(bytes == read_file(work / "three.tar.zst"));
    EXPECT_EQ(one.out.substr(one.out.find("changeset")), two.out.substr(two.out.find("changeset")));
}

TEST_F(Push, DryRunChangesNothing) {
    ASSERT_EQ(cli_run("push " + q(src) + " " + q(targets[0])).exit_code, 0);
    TreeMaker(15).mutate(src);
    auto before = tree_state(targets[0]);
    auto history = history_of(targets[0]);
    std::string manifest = manifest_of(targets[0]);
    auto empty_before = tree_state(targets[1]);

    auto r = cli_run("push --dry-run " + q(src) + " " + q(targets[0]) + " " + q(targets[1]));
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find(targets[0].string() + ": would write"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(targets[1].string() + ": would write"), std::string::npos) << r.out;
    EXPECT_EQ(tree_state(targets[0]), before);
    EXPECT_EQ(tree_state(targets[1]), empty_before);
    EXPECT_EQ(history_of(targets[0]), history);
    EXPECT_EQ(manifest_of(targets[0]), manifest);
    EXPECT_EQ(leftovers(targets[0]), "");
    EXPECT_FALSE(fs::exists(targets[1] / ".exmsync/history"));
    EXPECT_NE(cli_run("diff " + q(src) + " " + q(targets[0])).exit_code, 0);
}

// Repeatable options take one value each: the folders after them stay
// positionals, wherever the options stand.
TEST_F(Push, RepeatableOptionsDoNotSwallowFolders) {
    auto r = cli_run("push --include '**/*.html' --exclude 'x/**' " + q(src) + " --include '*.css' " +
                     q(targets[0]) + " --identity /nonexistent/key " + q(targets[1]));
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("2 targets: 2 updated"), std::string::npos) << r.out;
    for (const auto& t : {targets[0], targets[1]})
        for (fs::recursive_directory_iterator it(t), end; it != end; ++it) {
            if (it->path().filename() == ".exmsync") {
                it.disable_recursion_pending();
            } else if (fs::is_regular_file(it->path())) {
                EXPECT_TRUE(it->path().extension() == ".html" || it->path().extension() == ".css") << it->path();
            }
        }
    EXPECT_FALSE(fs::exists(targets[2] / ".exmsync"));
    auto diff = cli_run("diff --exclude '*.txt' --exclude '*.js' " + q(src) + " " + q(targets[2]));
    EXPECT_EQ(diff.exit_code, 1) << diff.out << diff.err;  // 1: differences, not 2: usage
}

TEST_F(Push, MissingTargetIsExitOneNamingItOthersStillPushed) {
    fs::path missing = dir / "not-mounted";
    auto r = cli_run("push " + q(src) + " " + q(targets[0]) + " " + q(missing) + " " + q(targets[1]));
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.err.find(missing.string() + ": FAILED"), std::string::npos) << r.err;
    EXPECT_EQ(r.out.find("FAILED"), std::string::npos) << "failures go to stderr: " << r.out;
    EXPECT_NE(r.out.find("3 targets: 2 updated, 0 already in sync, 1 failed"), std::string::npos) << r.out;
    EXPECT_FALSE(fs::exists(missing));
    EXPECT_EQ(rsync_differences(src, targets[0]), "");
    EXPECT_EQ(rsync_differences(src, targets[1]), "");
}

TEST_F(Push, MissingSourceIsExitTwoAndTouchesNoTarget) {
    auto r = cli_run("push " + q(dir / "no-source") + targets_args());
    EXPECT_EQ(r.exit_code, 2) << r.out;
    EXPECT_NE(r.err.find("no-source"), std::string::npos) << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    for (const auto& t : targets) EXPECT_TRUE(fs::is_empty(t)) << t;
}

TEST_F(Push, PackWithMissingSourceOrBaseIsExitTwo) {
    auto r = cli_run("pack " + q(dir / "no-source") + " --base " + q(targets[0]) + " -o " + q(work / "x.tar.zst"));
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("no-source"), std::string::npos) << r.err;
    r = cli_run("pack " + q(src) + " --base " + q(work / "no-manifest") + " -o " + q(work / "x.tar.zst"));
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("no-manifest"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(work / "x.tar.zst"));
}

}  // namespace

// An archive is applied once: again, it is "already applied" (exit 0, nothing
// touched); replayed after a newer one, or packed against a state the target
// has left, it is refused with the roots named and the target unchanged.
TEST_F(Push, ReplayedAndStaleArchivesAreRefusedAndASecondApplyIsANoOp) {
    const fs::path& t = targets[0];
    ASSERT_EQ(cli_run("push " + q(src) + " " + q(t)).exit_code, 0);
    auto pack_for = [&](const std::string& name) {
        EXPECT_EQ(cli_run("manifest " + q(t) + " -o " + q(work / (name + ".base"))).exit_code, 0);
        auto p = cli_run("pack " + q(src) + " --base " + q(work / (name + ".base")) + " -o " + q(work / name));
        EXPECT_EQ(p.exit_code, 0) << p.err;
        return work / name;
    };
    TreeMaker(21).mutate(src);
    fs::path first = pack_for("first.tar.zst");
    ASSERT_EQ(cli_run("apply " + q(first) + " " + q(t)).exit_code, 0);
    auto again = cli_run("apply " + q(first) + " " + q(t));
    EXPECT_EQ(again.exit_code, 0) << again.err;
    EXPECT_NE(again.out.find("already holds changeset"), std::string::npos) << again.out;
    auto again_json = cli_run("apply --json " + q(first) + " " + q(t));
    EXPECT_EQ(nlohmann::json::parse(again_json.out)["already_applied"], true);

    write_file(src / "late.html", "<html>late</html>");
    fs::path stale = pack_for("stale.tar.zst");  // for the state after `first`, like `second`
    write_file(src / "later.html", "<html>later</html>");
    fs::path second = pack_for("second.tar.zst");
    ASSERT_EQ(cli_run("apply " + q(second) + " " + q(t)).exit_code, 0);
    write_file(src / "third.html", "<html>third</html>");
    ASSERT_EQ(cli_run("push " + q(src) + " " + q(t)).exit_code, 0);  // the target moves on

    std::string before = manifest_of(t);
    std::string history = history_of(t);
    for (const fs::path& archive : {first, stale}) {
        auto r = cli_run("apply --json " + q(archive) + " " + q(t));
        EXPECT_EQ(r.exit_code, 2) << archive << ": " << r.out;
        auto doc = nlohmann::json::parse(r.out);
        EXPECT_EQ(doc["ok"], false);
        EXPECT_EQ(doc["error"]["code"], "base-mismatch");
        EXPECT_NE(r.err.find("was made for root"), std::string::npos) << r.err;
        EXPECT_EQ(manifest_of(t), before);
        EXPECT_EQ(history_of(t), history);
        EXPECT_EQ(leftovers(t), "");
    }
}
