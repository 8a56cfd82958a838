// The local backend: success and failure of every method.
#include "transport/local.hpp"

#include <gtest/gtest.h>
#ifndef _WIN32
#include <sys/stat.h>  // mkfifo: a kind of entry Windows does not have
#endif

#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <thread>

#include "helpers.hpp"
#include "support/temp_tree.hpp"
#include "support/wine.hpp"

namespace exmsync::transport {
namespace {

namespace fs = boost::filesystem;
using testing::read_all;
using testing::read_file;
using testing::write_file;
using testing::write_new;

class LocalTest : public ::testing::Test {
protected:
    testing::TempDir dir;
    fs::path root = dir.path();
    std::unique_ptr<Transport> t = make_local_transport(root);

    std::string message_of(const std::function<void()>& action) {
        try {
            action();
        } catch (const Error& e) {
            return e.what();
        }
        return "(no error)";
    }
};

TEST_F(LocalTest, OpenRefusesMissingRoot) {
    try {
        make_local_transport(root / "missing");
        FAIL() << "opened a missing root";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find((root / "missing").string()), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("does not exist or is not a folder"), std::string::npos);
    }
}

TEST_F(LocalTest, OpenRefusesAFileOrNothingAsRoot) {
    write_file(root / "f", "x");
    EXPECT_THROW(make_local_transport(root / "f"), Error);
    EXPECT_THROW(make_local_transport(""), Error);  // not the current folder
}

TEST_F(LocalTest, DescribeAndLocalPathGiveTheRoot) {
    EXPECT_EQ(t->describe(), root.string());
    ASSERT_TRUE(t->local_path());
    EXPECT_EQ(*t->local_path(), root);
}

TEST_F(LocalTest, StatDescribesEachKind) {
    write_file(root / "f", "12345");
    fs::create_directory(root / "d");
    EXPECT_EQ(t->stat("f")->kind, Kind::File);
    EXPECT_EQ(t->stat("f")->size, 5u);
    EXPECT_EQ(t->stat("d")->kind, Kind::Directory);
    if (testing::makes_symlinks(root)) {
        fs::create_symlink("d", root / "l");
        EXPECT_EQ(t->stat("l")->kind, Kind::Symlink);  // not the folder it points to
    }
#ifndef _WIN32
    ASSERT_EQ(::mkfifo((root / "p").c_str(), 0600), 0);
    EXPECT_EQ(t->stat("p")->kind, Kind::Other);
#endif
    EXPECT_EQ(t->stat("")->kind, Kind::Directory);
}

TEST_F(LocalTest, StatGivesNulloptWhenAbsent) {
    write_file(root / "f", "x");
    EXPECT_FALSE(t->stat("missing"));
    EXPECT_FALSE(t->stat("missing/deeper"));
    EXPECT_FALSE(t->stat("f/under-a-file"));
}

TEST_F(LocalTest, ListSortsByNameBytesAndSkipsDots) {
    // "B" beside "b" only where the file system keeps both.
    const bool both = !testing::folds_case(root);
    for (const char* name : {"b", "B", "a", "caf\xc3\xa9", "Z", "_"})
        if (both || std::string(name) != "B") write_file(root / name, name);
    fs::create_directory(root / "sub");
    const auto entries = t->list("");
    std::vector<std::string> names;
    for (const auto& e : entries) names.push_back(e.name);
    std::vector<std::string> expected{"B", "Z", "_", "a", "b", "caf\xc3\xa9", "sub"};
    if (!both) expected.erase(expected.begin());
    EXPECT_EQ(names, expected);
    EXPECT_EQ(entries.back().stat.kind, Kind::Directory);
    EXPECT_EQ(entries.front().stat.size, 1u);
}

TEST_F(LocalTest, ListOfSubfolderAndEmptyFolder) {
    fs::create_directories(root / "x" / "empty");
    write_file(root / "x" / "f", "");
    EXPECT_EQ(t->list("x").size(), 2u);
    EXPECT_TRUE(t->list("x/empty").empty());
}

TEST_F(LocalTest, ListFailures) {
    write_file(root / "f", "x");
    EXPECT_THROW(t->list("missing"), NotFound);
    const std::string message = message_of([&] { t->list("f"); });
    EXPECT_NE(message.find("not a folder"), std::string::npos) << message;
    EXPECT_THROW(t->list("f/g"), NotFound);  // nothing can be below a file
}

TEST_F(LocalTest, OpenReadReadsEverythingThenZero) {
    std::string content(100'003, '\0');
    for (std::size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 7);
    write_file(root / "big", content);
    EXPECT_EQ(read_all(*t, "big"), content);
    auto reader = t->open_read("big");
    std::string buffer(200'000, '\0');
    std::size_t total = 0;
    while (const auto n = reader->read(buffer.data() + total, buffer.size() - total)) total += n;
    EXPECT_EQ(total, content.size());
    EXPECT_EQ(reader->read(buffer.data(), 10), 0u);
}

TEST_F(LocalTest, OpenReadFailures) {
    fs::create_directory(root / "d");
#ifndef _WIN32
    ASSERT_EQ(::mkfifo((root / "p").c_str(), 0600), 0);
    EXPECT_THROW(t->open_read("p"), Error);  // must not block waiting for a writer
#endif
    EXPECT_THROW(t->open_read("missing"), NotFound);
    EXPECT_THROW(t->open_read("missing/f"), NotFound);
    EXPECT_NE(message_of([&] { t->open_read("d"); }).find("folder"), std::string::npos);
    EXPECT_THROW(t->open_read(""), Error);
}

TEST_F(LocalTest, CreateWritesANewFile) {
    fs::create_directory(root / "d");
    auto writer = t->create("d/new");
    writer->write("hello ", 6);
    writer->write("world", 5);
    writer->write("", 0);
    writer->commit(Flush::Now);
    EXPECT_EQ(read_file(root / "d" / "new"), "hello world");
}

TEST_F(LocalTest, CreateRefusesAnythingExisting) {
    write_file(root / "f", "old");
    fs::create_directory(root / "d");
    EXPECT_THROW(t->create("f"), AlreadyExists);
    EXPECT_THROW(t->create("d"), AlreadyExists);
    EXPECT_EQ(read_file(root / "f"), "old");
}

TEST_F(LocalTest, CreateNeedsTheParent) {
    write_file(root / "f", "x");
    EXPECT_THROW(t->create("missing/new"), NotFound);
    EXPECT_THROW(t->create("f/new"), NotFound);
    EXPECT_THROW(t->create(""), Error);
    EXPECT_FALSE(fs::exists(root / "missing"));
}

TEST_F(LocalTest, WriterAfterCommitThrows) {
    auto writer = t->create("f");
    writer->commit(Flush::Now);
    EXPECT_THROW(writer->write("x", 1), Error);
    EXPECT_THROW(writer->commit(Flush::Now), Error);
    EXPECT_EQ(fs::file_size(root / "f"), 0u);
}

TEST_F(LocalTest, UncommittedWriterLeavesThePartialFile) {
    {
        auto writer = t->create("partial");
        writer->write("half", 4);
    }
    EXPECT_EQ(read_file(root / "partial"), "half");
    EXPECT_THROW(t->create("partial"), AlreadyExists);  // the caller must clean it up
}

TEST_F(LocalTest, DeferredFlushStillWritesAndFlushAllSucceeds) {
    for (auto [name, text] : {std::pair{"a", "one"}, std::pair{"b", "two"}}) {
        auto writer = t->create(name);
        writer->write(text, 3);
        writer->commit(Flush::Deferred);
    }
    t->flush_all();
    EXPECT_EQ(read_file(root / "a"), "one");
    EXPECT_EQ(read_file(root / "b"), "two");
}

// The root's descriptor is duplicated for each listing; a duplicate shares
// the directory's read position, so a second listing must rewind.
TEST_F(LocalTest, ListingTheRootTwiceGivesEverythingTwice) {
    write_file(root / "a", "1");
    write_file(root / "b", "2");
    EXPECT_EQ(t->list("").size(), 2u);
    EXPECT_EQ(t->list("").size(), 2u);
}

TEST_F(LocalTest, RenameMovesFilesAndFolders) {
    write_file(root / "f", "content");
    fs::create_directories(root / "d" / "inner");
    t->rename("f", "d/g");
    t->rename("d/inner", "moved");
    EXPECT_FALSE(fs::exists(root / "f"));
    EXPECT_EQ(read_file(root / "d" / "g"), "content");
    EXPECT_TRUE(fs::is_directory(root / "moved"));
}

TEST_F(LocalTest, RenameNeverReplaces) {
    write_file(root / "a", "A");
    write_file(root / "b", "B");
    fs::create_directory(root / "d");
    EXPECT_THROW(t->rename("a", "b"), AlreadyExists);
    EXPECT_THROW(t->rename("a", "d"), AlreadyExists);
    EXPECT_THROW(t->rename("d", "a"), AlreadyExists);
    EXPECT_EQ(read_file(root / "a"), "A");
    EXPECT_EQ(read_file(root / "b"), "B");
}

TEST_F(LocalTest, RenameFailures) {
    write_file(root / "a", "A");
    EXPECT_THROW(t->rename("missing", "x"), NotFound);
    EXPECT_THROW(t->rename("a", "missing/x"), NotFound);
    EXPECT_THROW(t->rename("", "x"), Error);
    EXPECT_THROW(t->rename("a", ""), Error);
    const std::string message = message_of([&] { t->rename("missing", "x"); });
    EXPECT_NE(message.find("'missing' to 'x'"), std::string::npos) << message;
}

TEST_F(LocalTest, RemoveFileAndEmptyFolder) {
    write_file(root / "f", "x");
    fs::create_directory(root / "d");
    t->remove("f");
    t->remove("d");
    EXPECT_FALSE(fs::exists(root / "f"));
    EXPECT_FALSE(fs::exists(root / "d"));
}

TEST_F(LocalTest, RemoveFailures) {
    fs::create_directory(root / "d");
    write_file(root / "d" / "f", "x");
    EXPECT_THROW(t->remove("missing"), NotFound);
    EXPECT_THROW(t->remove(""), Error);
    try {
        t->remove("d");
        FAIL() << "removed a non-empty folder";
    } catch (const NotFound&) {
        FAIL() << "a non-empty folder is not a missing one";
    } catch (const AlreadyExists&) {
        FAIL() << "a non-empty folder is not AlreadyExists";
    } catch (const Error&) {
    }
    EXPECT_TRUE(fs::exists(root / "d" / "f"));
}

TEST_F(LocalTest, MkdirCreatesOneLevel) {
    t->mkdir("a");
    t->mkdir("a/b");
    EXPECT_TRUE(fs::is_directory(root / "a" / "b"));
    EXPECT_THROW(t->mkdir("a"), AlreadyExists);
    EXPECT_THROW(t->mkdir("x/y"), NotFound);
    EXPECT_THROW(t->mkdir(""), Error);
    EXPECT_FALSE(fs::exists(root / "x"));
}

TEST_F(LocalTest, SetMtimeKeepsNanoseconds) {
    write_file(root / "f", "x");
    fs::create_directory(root / "d");
    // In the steps the file system keeps: 1 ns on Linux, 100 ns on Windows.
    const std::int64_t step = t->capabilities().mtime_resolution_ns;
    const std::int64_t when = 1'700'000'000'123'456'789 / step * step;
    t->set_mtime("f", when);
    t->set_mtime("d", when + step);
    t->set_mtime("", when + 2 * step);
    EXPECT_EQ(t->stat("f")->mtime_ns, when);
    EXPECT_EQ(t->stat("d")->mtime_ns, when + step);
    EXPECT_EQ(t->stat("")->mtime_ns, when + 2 * step);
}

TEST_F(LocalTest, SetMtimeBefore1970) {
    write_file(root / "f", "x");
    const std::int64_t step = t->capabilities().mtime_resolution_ns;
    t->set_mtime("f", -1'500'000'000 - step);
    EXPECT_EQ(t->stat("f")->mtime_ns, -1'500'000'000 - step);
}

TEST_F(LocalTest, SetMtimeFailures) {
    EXPECT_THROW(t->set_mtime("missing", 0), NotFound);
    EXPECT_THROW(t->set_mtime("missing/f", 0), NotFound);
}

TEST_F(LocalTest, FlushDirAndFlushAll) {
    fs::create_directory(root / "d");
    EXPECT_NO_THROW(t->flush_dir(""));
    EXPECT_NO_THROW(t->flush_dir("d"));
    EXPECT_NO_THROW(t->flush_all());
    EXPECT_THROW(t->flush_dir("missing"), NotFound);
}

TEST_F(LocalTest, ErrorsNameTargetPathAndCause) {
    const std::string message = message_of([&] { t->remove("gone/x"); });
    EXPECT_NE(message.find("target " + root.string()), std::string::npos) << message;
    EXPECT_NE(message.find("'gone/x'"), std::string::npos) << message;
#ifdef _WIN32
    // The system's own words: "cannot find" on Windows, "not found" on Wine.
    EXPECT_TRUE(message.find("cannot find") != std::string::npos || message.find("not found") != std::string::npos)
        << message;
#else
    EXPECT_NE(message.find("No such file or directory"), std::string::npos) << message;
#endif
    EXPECT_EQ(message.find('\n'), std::string::npos);
}

#ifdef _WIN32
// IIS or an antivirus holding a file for a moment: the remove waits (up to
// 5 s) instead of failing the commit.
TEST_F(LocalTest, FileHeldOpenBrieflyIsRemovedOnceReleased) {
    write_file(root / "held.html", "x");
    auto held = std::make_unique<std::ifstream>(testing::stream_path(root / "held.html"), std::ios::binary);
    ASSERT_TRUE(*held);
    std::thread release([&held] {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        held.reset();
    });
    EXPECT_NO_THROW(t->remove("held.html"));
    release.join();
    EXPECT_FALSE(fs::exists(root / "held.html"));
}
#endif

TEST_F(LocalTest, RootHeldOpenAcrossARenameOfItsPath) {
    // The root is opened once: renaming the folder away does not redirect
    // later calls to whatever appears under the old name.
    write_file(root / "f", "x");
#ifdef _WIN32
    // Windows goes further: the folder held open cannot be renamed at all.
    if (testing::under_wine()) GTEST_SKIP() << "Wine 8 lets a folder held open without delete sharing be renamed";
    boost::system::error_code refused;
    fs::rename(root, dir.path().string() + "-moved", refused);
    EXPECT_TRUE(refused);
    EXPECT_TRUE(t->stat("f"));
    return;
#endif
    fs::rename(root, dir.path().string() + "-moved");
    fs::create_directory(root);
    EXPECT_TRUE(t->stat("f"));
    fs::remove_all(root);
    fs::rename(dir.path().string() + "-moved", root);
}

}  // namespace
}  // namespace exmsync::transport
