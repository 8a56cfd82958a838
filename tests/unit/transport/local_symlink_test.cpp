// Symlink attacks on the local backend. A hostile target tree holds links
// pointing outside its root; nothing outside may ever be read, written,
// created, renamed, removed or re-timed through them. Every test ends by
// checking that the folder outside the root is exactly as it was.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <functional>
#include <map>

#include "helpers.hpp"
#include "support/temp_tree.hpp"
#include "transport/local.hpp"

namespace exmsync::transport {
namespace {

namespace fs = boost::filesystem;
using testing::read_file;
using testing::write_file;

std::int64_t lstat_mtime_ns(const fs::path& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return -1;
    return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

// Every entry under `folder`: relative path -> content (or "<dir>") and mtime.
std::map<std::string, std::string> snapshot(const fs::path& folder) {
    std::map<std::string, std::string> out;
    out["."] = std::to_string(lstat_mtime_ns(folder));
    for (fs::recursive_directory_iterator it(folder), end; it != end; ++it) {
        const fs::path& p = it->path();
        const std::string content = fs::is_directory(fs::symlink_status(p)) ? "<dir>" : read_file(p);
        out[p.lexically_relative(folder).string()] = content + " @" + std::to_string(lstat_mtime_ns(p));
    }
    return out;
}

class LocalSymlinkTest : public ::testing::Test {
protected:
    testing::TempDir base;
    fs::path root = base.path() / "root";
    fs::path outside = base.path() / "outside";
    std::unique_ptr<Transport> t;
    std::map<std::string, std::string> before;

    void SetUp() override {
        fs::create_directories(outside / "dir");
        write_file(outside / "passwd", "sentinel");
        write_file(outside / "dir" / "inner", "inner");
        fs::create_directories(root / "d");
        write_file(root / "file", "mine");
        fs::create_symlink(outside, root / "a");                     // a folder link, absolute
        fs::create_symlink("../outside", root / "rel");              // a folder link, relative
        fs::create_symlink(outside / "passwd", root / "link");       // a file link
        fs::create_symlink(outside / "dir", root / "dirlink");
        fs::create_symlink(outside / "nonexistent", root / "dangling");
        fs::create_symlink(outside, root / "d" / "a");               // deeper down
        before = snapshot(outside);
        t = make_local_transport(root);
    }

    void TearDown() override { EXPECT_EQ(snapshot(outside), before) << "something outside the root changed"; }

    // The action must fail with a plain Error that says a symlink is in the
    // way: not NotFound / AlreadyExists, which a caller might act upon.
    static void expect_refused(const std::function<void()>& action, const std::string& link = "") {
        try {
            action();
            ADD_FAILURE() << "went through a symlink";
        } catch (const NotFound& e) {
            ADD_FAILURE() << "NotFound instead of a refusal: " << e.what();
        } catch (const AlreadyExists& e) {
            ADD_FAILURE() << "AlreadyExists instead of a refusal: " << e.what();
        } catch (const Error& e) {
            const std::string message = e.what();
            EXPECT_NE(message.find(link + " is a symlink"), std::string::npos) << message;
        }
    }
};

TEST_F(LocalSymlinkTest, StatDescribesTheLinkItself) {
    EXPECT_EQ(t->stat("link")->kind, Kind::Symlink);
    EXPECT_EQ(t->stat("a")->kind, Kind::Symlink);
    EXPECT_EQ(t->stat("dangling")->kind, Kind::Symlink);
}

TEST_F(LocalSymlinkTest, StatThroughALinkIsRefused) {
    expect_refused([&] { t->stat("a/passwd"); }, "'a'");
    expect_refused([&] { t->stat("d/a/passwd"); }, "'d/a'");
}

TEST_F(LocalSymlinkTest, OpenReadNeverFollows) {
    expect_refused([&] { t->open_read("link"); });
    expect_refused([&] { t->open_read("a/passwd"); }, "'a'");
    expect_refused([&] { t->open_read("rel/passwd"); }, "'rel'");
    EXPECT_EQ(testing::read_all(*t, "file"), "mine");
}

TEST_F(LocalSymlinkTest, CreateOnALinkFindsItThere) {
    EXPECT_THROW(t->create("link"), AlreadyExists);
    EXPECT_THROW(t->create("dangling"), AlreadyExists);  // must not create outside/nonexistent
    EXPECT_FALSE(fs::exists(outside / "nonexistent"));
}

TEST_F(LocalSymlinkTest, CreateThroughALinkIsRefused) {
    expect_refused([&] { t->create("a/passwd"); }, "'a'");
    expect_refused([&] { t->create("a/new"); }, "'a'");
    expect_refused([&] { t->create("rel/new"); }, "'rel'");
    expect_refused([&] { t->create("dirlink/new"); }, "'dirlink'");
    expect_refused([&] { t->create("d/a/new"); }, "'d/a'");
    expect_refused([&] { t->create("a/dir/new"); }, "'a'");
}

TEST_F(LocalSymlinkTest, MkdirThroughALinkIsRefused) {
    expect_refused([&] { t->mkdir("a/sub"); }, "'a'");
    expect_refused([&] { t->mkdir("d/a/sub"); }, "'d/a'");
    EXPECT_THROW(t->mkdir("dangling"), AlreadyExists);
}

TEST_F(LocalSymlinkTest, RenameThroughALinkIsRefused) {
    expect_refused([&] { t->rename("a/passwd", "stolen"); }, "'a'");
    expect_refused([&] { t->rename("file", "a/file"); }, "'a'");
    expect_refused([&] { t->rename("file", "dirlink/file"); }, "'dirlink'");
    EXPECT_EQ(read_file(root / "file"), "mine");
    EXPECT_FALSE(fs::exists(fs::symlink_status(root / "stolen")));
}

TEST_F(LocalSymlinkTest, RenameMovesTheLinkItselfAndNeverReplacesOne) {
    t->rename("link", "moved");
    EXPECT_TRUE(fs::is_symlink(root / "moved"));
    EXPECT_THROW(t->rename("file", "dangling"), AlreadyExists);
    EXPECT_EQ(read_file(root / "file"), "mine");
}

TEST_F(LocalSymlinkTest, ListThroughALinkIsRefused) {
    expect_refused([&] { t->list("a"); }, "'a'");
    expect_refused([&] { t->list("dirlink"); }, "'dirlink'");
    expect_refused([&] { t->list("a/dir"); }, "'a'");
    expect_refused([&] { t->list("d/a"); }, "'d/a'");
}

TEST_F(LocalSymlinkTest, RemoveRemovesTheLinkNotItsTarget) {
    t->remove("link");
    t->remove("a");
    t->remove("dirlink");
    t->remove("d/a");
    t->remove("dangling");
    for (const char* gone : {"link", "a", "dirlink", "d/a", "dangling"}) {
        EXPECT_FALSE(fs::exists(fs::symlink_status(root / gone))) << gone;
    }
}

TEST_F(LocalSymlinkTest, RemoveThroughALinkIsRefused) {
    expect_refused([&] { t->remove("a/passwd"); }, "'a'");
    expect_refused([&] { t->remove("dirlink/inner"); }, "'dirlink'");
}

TEST_F(LocalSymlinkTest, SetMtimeChangesTheLinkOnly) {
    const std::int64_t when = 1'000'000'000'000'000'007;
    t->set_mtime("link", when);
    t->set_mtime("a", when);
    EXPECT_EQ(lstat_mtime_ns(root / "link"), when);
    EXPECT_EQ(lstat_mtime_ns(root / "a"), when);
}

TEST_F(LocalSymlinkTest, SetMtimeThroughALinkIsRefused) {
    expect_refused([&] { t->set_mtime("a/passwd", 0); }, "'a'");
}

TEST_F(LocalSymlinkTest, FlushDirThroughALinkIsRefused) {
    expect_refused([&] { t->flush_dir("a"); }, "'a'");
    expect_refused([&] { t->flush_dir("a/dir"); }, "'a'");
}

TEST_F(LocalSymlinkTest, AFolderSwappedForALinkAfterOpenIsRefused) {
    fs::create_directory(root / "swap");
    t->mkdir("swap/ok");
    fs::remove(root / "swap" / "ok");
    fs::remove(root / "swap");
    fs::create_symlink(outside, root / "swap");
    expect_refused([&] { t->create("swap/passwd"); }, "'swap'");
    expect_refused([&] { t->mkdir("swap/ok"); }, "'swap'");
}

TEST_F(LocalSymlinkTest, ARootReachedThroughALinkIsTheOperatorsChoice) {
    fs::create_symlink(root, base.path() / "root-link");
    auto linked = make_local_transport(base.path() / "root-link");
    EXPECT_EQ(testing::read_all(*linked, "file"), "mine");
    expect_refused([&] { linked->create("a/new"); }, "'a'");
}

}  // namespace
}  // namespace exmsync::transport
