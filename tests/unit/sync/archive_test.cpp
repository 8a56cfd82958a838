// Changeset archives: writing, reading back, reproducible bytes, and what
// the writer refuses. Hostile archives are in archive_hostile_test.cpp.
#include <gtest/gtest.h>
#ifndef _WIN32
#include <fcntl.h>
#include <unistd.h>
#endif

#include <cstdio>
#include <string>
#include <vector>

#include "unit/sync/archive_support.hpp"

using namespace exmsync;
using namespace exmsync::sync;
using namespace exmsync::testing;
using namespace exmsync::testing::archives;
using exmsync::testing::TempDir;
using exmsync::testing::read_file;
using exmsync::testing::write_file;

// ---- writing and reading back ----------------------------------------------

TEST(Archive, RoundTripKeepsChangesetAndBytes) {
    TempDir dir;
    std::string file = write_sample(dir, "cs.tar.zst");
    Sample s = sample();
    ArchiveReader reader(file);
    EXPECT_EQ(reader.changeset().header, s.changeset.header);
    EXPECT_EQ(read_file(reader.changeset().ops), s.changeset.ops_text());
    std::vector<Item> items = collect(reader);
    ASSERT_EQ(items.size(), s.feed.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
        EXPECT_EQ(items[i].name, s.feed[i].name);
        EXPECT_EQ(items[i].size, s.feed[i].bytes.size()) << items[i].name;
        EXPECT_TRUE(items[i].bytes == s.feed[i].bytes) << items[i].name;
    }
}

TEST(Archive, SameInputsGiveSameBytes) {
    TempDir dir;
    std::string first = read_file(write_sample(dir, "one.tar.zst"));
    std::string second = read_file(write_sample(dir, "two.tar.zst"));
    EXPECT_GT(first.size(), 1000u);
    EXPECT_TRUE(first == second);
}

TEST(Archive, EntriesAreNormalisedAndInOrder) {
    TempDir dir;
    std::string file = write_sample(dir, "cs.tar.zst");
    archive* a = archive_read_new();
    archive_read_support_filter_zstd(a);
    archive_read_support_format_tar(a);
    ASSERT_EQ(archive_read_open_filename(a, file.c_str(), 65536), ARCHIVE_OK);
    std::vector<std::string> names;
    archive_entry* e;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        names.push_back(archive_entry_pathname(e));
        EXPECT_EQ(archive_entry_mtime(e), 0);
        EXPECT_EQ(archive_entry_uid(e), 0);
        EXPECT_EQ(archive_entry_gid(e), 0);
        EXPECT_STREQ(archive_entry_uname(e) ? archive_entry_uname(e) : "", "");
        EXPECT_STREQ(archive_entry_gname(e) ? archive_entry_gname(e) : "", "");
        EXPECT_EQ(archive_entry_perm(e), 0644);
    }
    archive_read_free(a);
    Sample s = sample();
    ASSERT_EQ(names.size(), s.feed.size() + 2);
    EXPECT_EQ(names[0], kArchiveMetadata);
    EXPECT_EQ(names[1], kArchiveOps);
    EXPECT_EQ(names[2], s.feed[0].name);  // files in op order
    EXPECT_EQ(names.back(), kArchiveManifest);
}

TEST(Archive, WriteReplacesAnExistingFile) {
    TempDir dir;
    write_file(dir / "cs.tar.zst", "old");
    std::string file = write_sample(dir, "cs.tar.zst");
    EXPECT_EQ(ArchiveReader(file).changeset().header, sample().changeset.header);
}

TEST(Archive, ReadingTwiceIsRefused) {
    TempDir dir;
    ArchiveReader reader(write_sample(dir, "cs.tar.zst"));
    collect(reader);
    EXPECT_THROW(collect(reader), Error);
}

// Descriptor redirection is POSIX; on Windows the cross-check pipes archives
// through exmsync.exe's stdin and stdout instead (tools/windows/cross-check.sh).
#ifndef _WIN32
namespace {

// Points file descriptor `fd` (0 or 1) at `file` until destroyed.
class Redirect {
public:
    Redirect(int fd, const std::string& file, int flags) : fd_(fd), saved_(::dup(fd)) {
        std::fflush(stdout);
        int opened = ::open(file.c_str(), flags, 0644);
        ::dup2(opened, fd_);
        ::close(opened);
    }
    ~Redirect() {
        std::fflush(stdout);
        std::clearerr(stdin);
        ::dup2(saved_, fd_);
        ::close(saved_);
    }

private:
    int fd_;
    int saved_;
};

}  // namespace

// "-" is how the SSH agent mode streams a changeset: `exmsync apply -`.
TEST(Archive, StreamsThroughStdoutAndStdin) {
    TempDir dir;
    std::string piped = (dir / "piped.tar.zst").string();
    {
        Redirect out(1, piped, O_WRONLY | O_CREAT | O_TRUNC);
        Sample s = sample();
        MemoryFeed feed(s.feed);
        write_archive("-", s.changeset.changeset(), feed);
    }
    EXPECT_TRUE(read_file(piped) == read_file(write_sample(dir, "file.tar.zst")));
    Redirect in(0, piped, O_RDONLY);
    ArchiveReader reader("-");
    EXPECT_EQ(reader.changeset().header, sample().changeset.header);
    EXPECT_EQ(collect(reader).size(), sample().feed.size());
}
#endif

// ---- the writer refuses and leaves nothing behind ---------------------------

namespace {

void expect_write_fails(const TestChangeset& c, std::vector<Item> feed, const char* cause) {
    TempDir dir;
    MemoryFeed memory(std::move(feed));
    std::string file = (dir / "cs.tar.zst").string();
    try {
        write_archive(file, c.changeset(), memory);
        ADD_FAILURE() << "written";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(cause), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
    }
    EXPECT_TRUE(boost::filesystem::is_empty(dir.path())) << "a partial archive was left";
}

}  // namespace

TEST(ArchiveWrite, ContentShorterThanItsSize) {
    expect_write_fails(one_file_changeset(), {{"files/a.html", "hell", 5}, {kManifestItem, "m", 1}},
                       "source changed while packing");
}

TEST(ArchiveWrite, ContentLongerThanItsSize) {
    expect_write_fails(one_file_changeset(), {{"files/a.html", "hello!", 5}, {kManifestItem, "m", 1}},
                       "source changed while packing");
}

TEST(ArchiveWrite, ManifestShorterThanClaimed) {
    expect_write_fails(one_file_changeset(), {{"files/a.html", "hello", 5}, {kManifestItem, "m", 9}},
                       "source changed while packing");
}

TEST(ArchiveWrite, FeedOutOfOrder) {
    expect_write_fails(one_file_changeset(), {{kManifestItem, "m", 1}, {"files/a.html", "hello", 5}}, "where");
}

TEST(ArchiveWrite, FeedMissingAnItem) {
    expect_write_fails(one_file_changeset(), {{"files/a.html", "hello", 5}}, "ended before");
}

// Only a changeset that allows unportable names (Linux targets) can hold one;
// an archive never carries it, as Windows would read it as traversal.
TEST(ArchiveWrite, PathTheReaderWouldRefuse) {
    auto c = make_changeset({write_op("dir\\a.html", "x")}, false);
    expect_write_fails(c, {{"files/dir\\a.html", "x", 1}, {kManifestItem, "m", 1}}, "backslash");
}

// A feed that reads a live source checks it at the end: a changed source
// never becomes an archive.
TEST(ArchiveWrite, SourceThatChangedLeavesNoArchive) {
    struct Changing : MemoryFeed {
        using MemoryFeed::MemoryFeed;
        void check_unchanged() override { throw SourceChanged("the source changed during the push"); }
    };
    TempDir dir;
    Changing feed({{"files/a.html", "hello", 5}, {kManifestItem, "m", 1}});
    std::string file = (dir / "cs.tar.zst").string();
    EXPECT_THROW(write_archive(file, one_file_changeset().changeset(), feed), SourceChanged);
    EXPECT_TRUE(boost::filesystem::is_empty(dir.path())) << "an archive was left";
}
