// The platform layer's file system, through its own interface only, so the
// same tests run on Linux and (cross-built) on Windows under Wine.
#include "platform/files.hpp"
#include "support/wine.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/filesystem.hpp>
#include <fstream>
#include <string>

namespace exmsync::platform {
namespace {

namespace fs = boost::filesystem;

class Folder {
public:
    Folder() : path_(fs::temp_directory_path() / fs::unique_path("exmsync-platform-%%%%-%%%%")) {
        fs::create_directories(path_);
    }
    ~Folder() {
        boost::system::error_code ec;
        fs::remove_all(path_, ec);
    }
    const fs::path& path() const { return path_; }
    void write(const std::string& rel, const std::string& content) const {
        fs::create_directories((path_ / rel).parent_path());
        std::ofstream out(stream_path((path_ / rel).string()), std::ios::binary);
        out << content;
    }
    std::string read(const std::string& rel) const {
        std::ifstream in(stream_path((path_ / rel).string()), std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }
    Handle open() const {
        Handle out;
        EXPECT_FALSE(open_folder(path_.string(), out)) << path_;
        return out;
    }

private:
    fs::path path_;
};

std::string read_all(const Handle& file) {
    std::string out;
    char buffer[7];  // small, so a read stops short of the end many times
    std::size_t got = 0;
    while (!read(file, buffer, sizeof buffer, got) && got > 0) out.append(buffer, got);
    return out;
}

class Rename : public ::testing::TestWithParam<bool> {};

TEST_P(Rename, NeverReplaces) {
    Folder dir;
    dir.write("a", "A");
    dir.write("b", "B");
    fs::create_directory(dir.path() / "d");
    Handle root = dir.open();
    const bool fallback = GetParam();
    EXPECT_EQ(rename_at(root, "a", root, "b", fallback).code, Errc::exists);
    EXPECT_EQ(rename_at(root, "d", root, "a", fallback).code, Errc::exists);
    EXPECT_EQ(rename_at(root, "missing", root, "x", fallback).code, Errc::not_found);
    EXPECT_FALSE(rename_at(root, "a", root, "c", fallback));
    EXPECT_FALSE(rename_at(root, "d", root, "e", fallback));
    EXPECT_EQ(dir.read("b"), "B");
    EXPECT_EQ(dir.read("c"), "A");
    EXPECT_TRUE(fs::is_directory(dir.path() / "e"));
    EXPECT_FALSE(fs::exists(dir.path() / "a"));
}

INSTANTIATE_TEST_SUITE_P(BothWays, Rename, ::testing::Values(false, true));

TEST(Rename, MovesBetweenFolders) {
    Folder dir;
    dir.write("from/x", "X");
    fs::create_directory(dir.path() / "to");
    Handle root = dir.open(), from, to;
    ASSERT_FALSE(open_folder_at(root, "from", from));
    ASSERT_FALSE(open_folder_at(root, "to", to));
    EXPECT_FALSE(rename_at(from, "x", to, "y"));
    EXPECT_EQ(dir.read("to/y"), "X");
}

TEST(Files, CreateWriteReadAndTimes) {
    Folder dir;
    Handle root = dir.open();
    Handle file;
    ASSERT_FALSE(create_file_at(root, "new.html", file));
    ASSERT_FALSE(write_all(file, "hello, world", 12));
    ASSERT_FALSE(set_mtime(file, 1'600'000'000'123'456'700));
    ASSERT_FALSE(flush_file(file));
    ASSERT_FALSE(file.close());
    EXPECT_EQ(create_file_at(root, "new.html", file).code, Errc::exists);

    Info info;
    ASSERT_FALSE(stat_at(root, "new.html", info));
    EXPECT_EQ(info.kind, Kind::File);
    EXPECT_EQ(info.size, 12u);
    // Every file system here keeps at least 100 ns (NTFS's step).
    EXPECT_EQ(info.mtime_ns, 1'600'000'000'123'456'700);

    Handle reader;
    Info opened;
    ASSERT_FALSE(open_file_at(root, "new.html", reader, opened));
    EXPECT_EQ(opened.file_id, info.file_id);
    EXPECT_EQ(opened.device, info.device);
    EXPECT_EQ(read_all(reader), "hello, world");

    ASSERT_FALSE(set_mtime_at(root, "new.html", -1'000'000'000));  // before 1970
    ASSERT_FALSE(stat_path((dir.path() / "new.html").string(), info));
    EXPECT_EQ(info.mtime_ns, -1'000'000'000);
}

TEST(Files, KindsAndRefusals) {
    Folder dir;
    dir.write("sub/f", "F");
    Handle root = dir.open();
    Handle out;
    Info info;
    EXPECT_EQ(open_file_at(root, "sub", out, info).code, Errc::is_a_folder);
    Handle sub;
    ASSERT_FALSE(open_folder_at(root, "sub", sub));
    EXPECT_EQ(open_folder_at(sub, "f", out).code, Errc::not_a_folder);
    EXPECT_EQ(stat_at(root, "nothing", info).code, Errc::not_found);
    EXPECT_EQ(open_file_at(root, "nothing", out, info).code, Errc::not_found);
    std::string link;
    EXPECT_EQ(read_link_at(sub, "f", link).code, Errc::not_a_link);
    // Not `sub`: on Windows a folder held open (as every folder on the way
    // is, without delete sharing) cannot be removed at all.
    dir.write("full/g", "G");
    EXPECT_EQ(remove_at(root, "full").code, Errc::not_empty);
    EXPECT_FALSE(remove_at(sub, "f"));
    sub = Handle();
    EXPECT_FALSE(remove_at(root, "sub"));
    EXPECT_EQ(remove_at(root, "sub").code, Errc::not_found);
}

TEST(Files, ListsChildrenWithWhatTheyAre) {
    Folder dir;
    dir.write("b.html", "12345");
    dir.write("a/inner", "");
    dir.write("\xc3\xa9t\xc3\xa9.txt", "x");  // UTF-8 in, UTF-8 out
    Handle root = dir.open();
    std::vector<FolderEntry> children;
    std::string failed;
    ASSERT_FALSE(list_folder(root, children, failed));
    std::sort(children.begin(), children.end(), [](const FolderEntry& a, const FolderEntry& b) { return a.name < b.name; });
    ASSERT_EQ(children.size(), 3u);
    EXPECT_EQ(children[0].name, "a");
    EXPECT_EQ(children[0].info.kind, Kind::Folder);
    EXPECT_EQ(children[1].name, "b.html");
    EXPECT_EQ(children[1].info.kind, Kind::File);
    EXPECT_EQ(children[1].info.size, 5u);
    EXPECT_EQ(children[2].name, "\xc3\xa9t\xc3\xa9.txt");
    // The listing describes a child as a look at it does: same identity.
    Info direct;
    ASSERT_FALSE(stat_at(root, "b.html", direct));
    EXPECT_EQ(children[1].info.file_id, direct.file_id);
    EXPECT_EQ(children[1].info.mtime_ns, direct.mtime_ns);
    EXPECT_EQ(children[1].info.ctime_ns, direct.ctime_ns);
    // A second listing of the same handle starts from the top again.
    ASSERT_FALSE(list_folder(root, children, failed));
    EXPECT_EQ(children.size(), 3u);
}

TEST(Files, FoldersAndSpace) {
    Folder dir;
    Handle root = dir.open();
    ASSERT_FALSE(make_folder_at(root, "new"));
    EXPECT_EQ(make_folder_at(root, "new").code, Errc::exists);
    Handle made, again;
    ASSERT_FALSE(open_folder_at(root, "new", made));
    EXPECT_FALSE(flush_folder(made));
    EXPECT_FALSE(flush_volume(root));
    ASSERT_FALSE(open_folder_at(root, "", again));  // the folder itself, anew
    Info a, b;
    ASSERT_FALSE(stat_handle(root, a));
    ASSERT_FALSE(stat_handle(again, b));
    EXPECT_EQ(a.file_id, b.file_id);
    EXPECT_EQ(a.kind, Kind::Folder);
    Space space;
    ASSERT_FALSE(free_space(root, space));
    EXPECT_GT(space.free_bytes, 0u);
    EXPECT_EQ(folder_problem(root), "");
    EXPECT_EQ(entry_problem_at(root, "new"), "");
}

TEST(Files, NeverThroughALink) {
    Folder dir;
    dir.write("real/f", "F");
    try {
        fs::create_directory_symlink("real", dir.path() / "link");
        fs::create_symlink("real/f", dir.path() / "flink");
    } catch (const fs::filesystem_error& e) {
        GTEST_SKIP() << "cannot make a symlink here: " << e.what();
    }
    // Wine 8 reports success for CreateSymbolicLinkW and makes nothing.
    if (!fs::is_symlink(dir.path() / "link") || !fs::is_symlink(dir.path() / "flink"))
        GTEST_SKIP() << "this system reported symlinks made but made none (Wine 8)";
    Handle root = dir.open(), out;
    Info info;
    EXPECT_EQ(open_folder_at(root, "link", out).code, Errc::is_link);
    EXPECT_EQ(open_file_at(root, "flink", out, info).code, Errc::is_link);
    EXPECT_EQ(create_file_at(root, "flink", out).code, Errc::exists);
    ASSERT_FALSE(stat_at(root, "link", info));
    EXPECT_EQ(info.kind, Kind::Link);
    ASSERT_FALSE(stat_path((dir.path() / "flink").string(), info));
    EXPECT_EQ(info.kind, Kind::Link);
    EXPECT_EQ(open_file((dir.path() / "flink").string(), out, info).code, Errc::is_link);
    std::string target;
    ASSERT_FALSE(read_link_at(root, "flink", target));
    EXPECT_EQ(fs::path(target), fs::path("real/f"));
    EXPECT_FALSE(remove_at(root, "link"));  // the link itself, never what it points to
    EXPECT_FALSE(remove_at(root, "flink"));
    EXPECT_EQ(dir.read("real/f"), "F");
}

// What the commit would meet is found before it starts: a read-only file on
// Windows, a file another program holds open without delete sharing (IIS,
// an antivirus), named with the fix.
TEST(Files, EntryProblemsBeforeTheCommit) {
    Folder dir;
    dir.write("free.html", "1");
    dir.write("held.html", "2");
    Handle root = dir.open();
    EXPECT_EQ(entry_problem_at(root, "free.html"), "");
    EXPECT_EQ(entry_problem_at(root, "missing.html"), "");
#ifdef _WIN32
    {
        // The C runtime opens without FILE_SHARE_DELETE, as IIS does.
        std::ifstream held(stream_path((dir.path() / "held.html").string()), std::ios::binary);
        ASSERT_TRUE(held);
        const std::string problem = entry_problem_at(root, "held.html");
        EXPECT_NE(problem.find("it is open in "), std::string::npos) << problem;
        EXPECT_NE(problem.find("stop that program"), std::string::npos) << problem;
        EXPECT_EQ(remove_at(root, "held.html").code, Errc::in_use);
    }
    EXPECT_EQ(entry_problem_at(root, "held.html"), "");
    const auto writes = fs::owner_write | fs::group_write | fs::others_write;
    fs::permissions(dir.path() / "free.html", fs::remove_perms | writes);  // the read-only attribute
    EXPECT_NE(entry_problem_at(root, "free.html").find("read-only"), std::string::npos);
    fs::permissions(dir.path() / "free.html", fs::add_perms | writes);
#endif
}

// Case-only renames on a file system that folds case (Windows, and Samba's
// default): the name changes, nothing is refused as already there.
TEST(Files, CaseOnlyRename) {
    if (testing::under_wine()) GTEST_SKIP() << "Wine 8 keeps the old case on a case-only MoveFileExW; Windows renames";
    Folder dir;
    dir.write("Welcome.html", "W");
    Handle root = dir.open();
    ASSERT_FALSE(rename_at(root, "Welcome.html", root, "welcome.html", false));
    std::vector<FolderEntry> children;
    std::string failed;
    ASSERT_FALSE(list_folder(root, children, failed));
    ASSERT_EQ(children.size(), 1u);
    EXPECT_EQ(children[0].name, "welcome.html");
    EXPECT_EQ(dir.read("welcome.html"), "W");
}

// A name finds only the entry stored under exactly that name, also where
// the file system folds case (Windows): the apply takes a case-only rename's
// new name for free, and never stats, removes, moves or touches the old
// entry by it.
TEST(Files, LookupsFindOnlyTheStoredSpelling) {
    Folder dir;
    dir.write("Welcome.html", "W");
    fs::create_directories(dir.path() / "Folder");
    Handle root = dir.open();
    Info info;
    EXPECT_EQ(stat_at(root, "welcome.html", info).code, Errc::not_found);
    EXPECT_FALSE(stat_at(root, "Welcome.html", info));
    EXPECT_EQ(stat_at(root, "folder", info).code, Errc::not_found);
    EXPECT_FALSE(stat_at(root, "Folder", info));
    EXPECT_EQ(set_mtime_at(root, "welcome.html", 0).code, Errc::not_found);
    EXPECT_EQ(remove_at(root, "welcome.html").code, Errc::not_found);
    EXPECT_EQ(rename_at(root, "welcome.html", root, "moved.html").code, Errc::not_found);
    EXPECT_EQ(rename_at(root, "welcome.html", root, "moved.html", true).code, Errc::not_found);
    EXPECT_EQ(dir.read("Welcome.html"), "W");
    // Creating the other spelling is refused where it would be the same entry.
    if (fs::exists(dir.path() / "WELCOME.HTML")) {  // the file system folds case
        Handle created;
        EXPECT_EQ(create_file_at(root, "welcome.html", created).code, Errc::exists);
        EXPECT_EQ(make_folder_at(root, "FOLDER").code, Errc::exists);
    }
    std::vector<FolderEntry> children;
    std::string failed;
    ASSERT_FALSE(list_folder(root, children, failed));
    EXPECT_EQ(children.size(), 2u);
}

TEST(Files, LongPaths) {
    // Past Windows' 260-character MAX_PATH: \\?\ paths on the Win32 side.
    Folder dir;
    Handle folder = dir.open();
    std::string rel;
    for (int i = 0; i < 12; ++i) {
        const std::string name(30, static_cast<char>('a' + i));
        ASSERT_FALSE(make_folder_at(folder, name)) << rel;
        Handle next;
        ASSERT_FALSE(open_folder_at(folder, name, next)) << rel;
        folder = std::move(next);
        rel += name + "/";
    }
    ASSERT_GT((dir.path() / rel).string().size(), 300u);
    Handle file;
    ASSERT_FALSE(create_file_at(folder, "deep.html", file));
    ASSERT_FALSE(write_all(file, "deep", 4));
    ASSERT_FALSE(file.close());
    Info info;
    ASSERT_FALSE(stat_path((dir.path() / rel / "deep.html").string(), info));
    EXPECT_EQ(info.size, 4u);
    Handle reader;
    ASSERT_FALSE(open_file((dir.path() / rel / "deep.html").string(), reader, info));
    EXPECT_EQ(read_all(reader), "deep");
}

}  // namespace
}  // namespace exmsync::platform
