#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "manifest/error.hpp"
#include "manifest/scanner.hpp"
#include "manifest/stat_cache.hpp"
#include "manifest/tree.hpp"
#include "support/temp_tree.hpp"

using namespace exmsync::manifest;
using namespace exmsync::testing;

namespace {

struct Scanned {
    ScanResult result;
    std::string text;
};

// Scans as if started `later_ns` after now: files written just now are then
// older than the racy-clean window, without waiting for it to pass.
Scanned scan(const fs::path& root, std::optional<fs::path> cache = std::nullopt, Filter filter = {},
             std::int64_t later_ns = 0) {
    TempDir out;
    ScanOptions options;
    if (later_ns) options.started_ns = now_ns() + later_ns;
    options.cache_in = options.cache_out = cache;
    options.filter = filter;
    ManifestWriter writer(out / "m");
    Scanned s{scan_tree(root, options, writer), ""};
    s.text = read_file(out / "m");
    return s;
}

void make_tree(const fs::path& root) {
    write_file(root / "Imported/welcome.html", "<html><body>Welcome $name$</body></html>\n");
    write_file(root / "Imported/img/logo.png", std::string(200000, '\x89'));
    write_file(root / "Imported/empty.html", "");
    write_file(root / "App_Config/Include/EmailExperience/Sitecore.EXM.config", "<configuration/>\n");
    write_file(root / "Imported/Thumbs.db", "junk");
    fs::create_directories(root / "Imported/empty-folder");
}

constexpr std::int64_t kPastTheWindow = kRacyWindowNs + 1'000'000'000;

}  // namespace

TEST(Scanner, EveryHashEqualsXxhsum) {
#ifdef _WIN32
    GTEST_SKIP() << "no xxhsum on Windows: tools/test-windows.sh compares this build's manifests with the Linux build's";
#endif
    TempDir dir;
    make_tree(dir.path());
    auto s = scan(dir.path());
    std::istringstream lines(s.text);
    int checked = 0;
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind("f\t", 0) != 0) continue;
        auto path = line.substr(line.rfind('\t') + 1);
        auto hash = line.substr(line.find('\t', 2) + 1, 32);
        auto xxh = run("xxhsum -H2 " + shell_quote((dir.path() / path).string()));
        ASSERT_EQ(xxh.exit_code, 0) << xxh.err;
        EXPECT_EQ(xxh.out.substr(0, 32), hash) << path;
        ++checked;
    }
    EXPECT_EQ(checked, 4);  // Thumbs.db is excluded by default
    EXPECT_EQ(s.result.stats.files, 4u);
    EXPECT_EQ(s.text.find("Thumbs.db"), std::string::npos);
    EXPECT_NE(s.text.find("d\t0\t"), std::string::npos);
}

TEST(Scanner, CopyWithNewMtimesGivesByteIdenticalManifest) {
    TempDir a, b;
    make_tree(a.path());
    make_tree(b.path());  // written in the same order, but at other times and inodes
    for (fs::recursive_directory_iterator it(b.path()), end; it != end; ++it)
        if (fs::is_regular_file(it->path())) age(it->path(), 1500000000);
    auto sa = scan(a.path());
    auto sb = scan(b.path());
    EXPECT_EQ(sa.text, sb.text);
    EXPECT_EQ(sa.result.root, sb.result.root);
}

TEST(Scanner, SymlinksAreRecordedNotFollowed) {
    TempDir dir, outside;
    if (!makes_symlinks(dir.path())) GTEST_SKIP() << "no symlinks can be made here";
    write_file(outside / "secret.html", "secret");
    fs::create_directory(dir / "Imported");
    fs::create_symlink(outside.path(), dir / "Imported/escape");
    auto s = scan(dir.path());
    EXPECT_NE(s.text.find("l\t"), std::string::npos);
    EXPECT_EQ(s.text.find("secret"), std::string::npos);
    EXPECT_EQ(s.result.stats.symlinks, 1u);
    EXPECT_EQ(s.result.stats.files, 0u);
}

TEST(Scanner, WarmRescanHashesZeroBytes) {
    TempDir dir, state;
    make_tree(dir.path());
    auto cold = scan(dir.path(), state / "cache", {}, kPastTheWindow);
    EXPECT_EQ(cold.result.stats.hashed_files, 4u);
    EXPECT_EQ(cold.result.stats.cached_files, 0u);
    auto warm = scan(dir.path(), state / "cache", {}, kPastTheWindow);
    EXPECT_EQ(warm.result.stats.hashed_bytes, 0u);
    EXPECT_EQ(warm.result.stats.hashed_files, 0u);
    EXPECT_EQ(warm.result.stats.cached_files, 4u);
    EXPECT_EQ(warm.text, cold.text);
}

// The cache reader reuses one buffer for every record's path: names that
// need escapes (a backslash, a tab, a byte that is not UTF-8) and names that
// do not, one after another, must each be found again.
TEST(Scanner, WarmRescanFindsEscapedNamesInTheCache) {
#ifdef _WIN32
    GTEST_SKIP() << "Windows refuses names with a backslash, a tab or a byte that is not UTF-8";
#endif
    TempDir dir, state;
    write_file(dir / "a/back\\slash.html", "1");
    write_file(dir / "a/plain.html", "2");
    write_file(dir / "a/tab\there.html", "3");
    write_file(dir / "a/z\xff.html", "4");
    write_file(dir / "b/a-much-longer-name-than-any-before-it.html", "5");
    write_file(dir / "b/c.html", "6");
    auto cold = scan(dir.path(), state / "cache", {}, kPastTheWindow);
    EXPECT_EQ(cold.result.stats.hashed_files, 6u);
    auto warm = scan(dir.path(), state / "cache", {}, kPastTheWindow);
    EXPECT_EQ(warm.result.stats.hashed_files, 0u);
    EXPECT_EQ(warm.result.stats.cached_files, 6u);
    EXPECT_EQ(warm.text, cold.text);
}

// Files written within the racy-clean window of a scan are never cached:
// the next scan reads them again, until a scan finds them old enough.
TEST(Scanner, RacilyCleanFilesAreHashedAgain) {
    TempDir dir, state;
    make_tree(dir.path());
    // Scans that start 1 s after the files were written, however long this
    // machine took to get here: inside the window.
    const std::int64_t written_ns = fs::last_write_time(dir / "Imported/welcome.html") * 1'000'000'000LL;
    const std::int64_t inside_the_window = written_ns + 1'000'000'000 - now_ns();
    EXPECT_EQ(scan(dir.path(), state / "cache", {}, inside_the_window).result.stats.hashed_files, 4u);
    EXPECT_EQ(scan(dir.path(), state / "cache", {}, inside_the_window).result.stats.hashed_files, 4u);
    EXPECT_EQ(scan(dir.path(), state / "cache", {}, kPastTheWindow).result.stats.hashed_files, 4u);
    EXPECT_EQ(scan(dir.path(), state / "cache", {}, kPastTheWindow).result.stats.hashed_files, 0u);
}

// Same size, new content, and the mtime put back: only ctime can tell the
// cache that this file changed.
TEST(Scanner, ChangeOnlyCtimeShowsIsHashedAgain) {
    TempDir dir, state;
    make_tree(dir.path());
    auto file = dir / "Imported/welcome.html";
    auto mtime = fs::last_write_time(file);
    scan(dir.path(), state / "cache", {}, kPastTheWindow);  // every file cached
    std::string content = read_file(file);
    content[0] = 'X';
    write_file(file, content);
    fs::last_write_time(file, mtime);
    auto again = scan(dir.path(), state / "cache", {}, kPastTheWindow);
    EXPECT_EQ(again.result.stats.hashed_files, 1u);
    EXPECT_NE(again.text.find(hash_bytes(content).hex()), std::string::npos);
}

TEST(Scanner, RacyRuleUsesTheTimestampWindow) {
    FileStat st;
    st.kind = FileKind::File;
    st.mtime_ns = 10'000'000'000;
    st.ctime_ns = 10'000'000'000;
    EXPECT_FALSE(is_cacheable(st, st.mtime_ns));  // modified in the same tick as the scan
    EXPECT_FALSE(is_cacheable(st, st.mtime_ns + kRacyWindowNs));
    EXPECT_TRUE(is_cacheable(st, st.mtime_ns + kRacyWindowNs + 1));
    st.ctime_ns += kRacyWindowNs;  // content rewritten and mtime put back
    EXPECT_FALSE(is_cacheable(st, st.mtime_ns + kRacyWindowNs + 1));
}

// A local tree whose files all change just before each read, as a log that
// is always being written: every attempt sees a file other than the one it
// listed, on the busiest machine as on an idle one.
class AlwaysChangingTree final : public Tree {
public:
    explicit AlwaysChangingTree(const fs::path& root) : root_(root), inner_(local_tree(root)) {}
    std::string describe() const override { return inner_->describe(); }
    std::optional<FileStat> stat(const std::string& path) override { return inner_->stat(path); }
    std::vector<DirChild> list(const std::string& dir) override { return inner_->list(dir); }
    std::optional<HashedFile> hash(const std::string& path, const FileStat& before) override {
        std::ofstream((root_ / path).string(), std::ios::app | std::ios::binary) << 'b';
        ++reads;
        return inner_->hash(path, before);
    }
    std::string read_symlink(const std::string& path) override { return inner_->read_symlink(path); }
    int reads = 0;

private:
    fs::path root_;
    std::unique_ptr<Tree> inner_;
};

TEST(Scanner, FileThatKeepsChangingIsReportedNotRecorded) {
    TempDir dir, out;
    write_file(dir / "busy.log.html", std::string(1 << 20, 'a'));
    AlwaysChangingTree tree(dir.path());
    ManifestWriter writer(out / "m");
    try {
        scan_tree(tree, ScanOptions{}, writer);
        FAIL() << "a file that changed during every read was recorded";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("kept changing"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("busy.log.html"), std::string::npos) << e.what();
    }
    EXPECT_EQ(tree.reads, ScanOptions{}.attempts);
}

TEST(Scanner, MissingRootIsAnErrorNamingIt) {
    TempDir dir;
    try {
        scan(dir / "no-such");
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("no-such"), std::string::npos);
    }
}

TEST(Scanner, IncludeAndExcludeFilters) {
    TempDir dir;
    make_tree(dir.path());
    auto s = scan(dir.path(), std::nullopt, Filter({"**/*.html"}, {"img"}));
    EXPECT_NE(s.text.find("welcome.html"), std::string::npos);
    EXPECT_EQ(s.text.find("logo.png"), std::string::npos);
    EXPECT_EQ(s.text.find("Sitecore.EXM.config"), std::string::npos);
    EXPECT_EQ(s.text.find("\timg"), std::string::npos);
}

TEST(Scanner, StateFolderIsNeverScanned) {
    TempDir dir;
    make_tree(dir.path());
    write_file(dir / ".exmsync/statcache", "x");
    auto s = scan(dir.path());
    EXPECT_EQ(s.text.find(".exmsync"), std::string::npos);
}

TEST(Scanner, WindowsNameProblemsAreReported) {
    TempDir dir;
    if (folds_case(dir.path())) GTEST_SKIP() << "these names cannot be made on a file system that folds case";
    write_file(dir / "a/Welcome.html", "1");
    write_file(dir / "a/welcome.html", "2");
    write_file(dir / "a/nul.txt", "3");
    auto s = scan(dir.path());
    ASSERT_EQ(s.result.name_problems.size(), 2u);
    EXPECT_EQ(s.result.name_problem_count, 2u);
    EXPECT_NE(s.result.name_problems[0].find("nul.txt"), std::string::npos);
    EXPECT_NE(s.result.name_problems[1].find("differ only in case"), std::string::npos);
}

// A Windows or SMB target would take `.EXMSYNC` for its state folder: any
// spelling at any depth is left out, and only the root's own one silently.
TEST(Scanner, StateFolderIsLeftOutInAnyCaseAtAnyDepth) {
    TempDir dir;
    if (folds_case(dir.path())) GTEST_SKIP() << ".exmsync and .EXMSYNC are one folder on a file system that folds case";
    write_file(dir / ".exmsync/statcache", "x");
    write_file(dir / ".EXMSYNC/current", "x");
    write_file(dir / "Imported/.ExmSync/lock", "x");
    write_file(dir / "Imported/a.html", "a");
    auto s = scan(dir.path());
    for (const char* name : {".exmsync", ".EXMSYNC", ".ExmSync"})
        EXPECT_EQ(s.text.find(name), std::string::npos) << name << " in " << s.text;
    EXPECT_EQ(s.result.stats.files, 1u);
    ASSERT_EQ(s.result.warnings.size(), 2u);
    EXPECT_NE(s.result.warnings[0].find(".EXMSYNC"), std::string::npos);
    EXPECT_NE(s.result.warnings[1].find("Imported/.ExmSync"), std::string::npos);
}

// The folders that hold what the manifest leaves out, in manifest order: a
// push must never remove them.
TEST(Scanner, HiddenFolderListNamesFoldersHoldingLeftOutEntries) {
    TempDir dir, out;
    write_file(dir / "a/Thumbs.db", "x");          // a default exclude
    write_file(dir / "a/b/keep.html", "k");
    write_file(dir / "a/b/c/notes.log", "l");      // outside the include below
    write_file(dir / "a2/x.html", "x");
    write_file(dir / "Thumbs.db", "root: never listed");
    ScanOptions options;
    options.filter = Filter({"*.html"}, {});
    options.hidden_out = out / "hidden";
    ManifestWriter writer(out / "m");
    auto result = scan_tree(dir.path(), options, writer);
    EXPECT_EQ(read_file(out / "hidden"), "a\na/b/c\n");
    EXPECT_EQ(result.hidden_folders, 2u);
}

TEST(StatCache, CorruptCacheIsAnErrorWithLine) {
    TempDir dir;
    make_tree(dir.path());
    const std::string hash(32, '0');
    // A bad number; a path with a raw tab (the writer escapes it), which is
    // one field too many.
    for (const std::string& record : {std::string("1\t2\t3\tfour\t5\tzz\tx"), "1\t2\t3\t4\t5\t" + hash + "\ta\tb"}) {
        write_file(dir / "cache", "exmsync-statcache\t1\n" + record + "\nend\t1\n");
        try {
            scan(dir.path(), dir / "cache");
            ADD_FAILURE() << "accepted " << record;
        } catch (const Error& e) {
            std::string msg = e.what();
            EXPECT_NE(msg.find("line 2"), std::string::npos) << msg;
            EXPECT_NE(msg.find("delete the file"), std::string::npos) << msg;
        }
    }
}
