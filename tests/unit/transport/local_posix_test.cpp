// The POSIX layer under the local backend: what the interface cannot reach
// (write and flush failures, the rename fallback, time conversion).
#include "transport/local_posix.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <cerrno>

#include "support/temp_tree.hpp"

namespace exmsync::transport::posix {
namespace {

namespace fs = boost::filesystem;

TEST(PosixWriter, WriteFailureNamesTargetPathAndAdvice) {
    Fd full(::open("/dev/full", O_WRONLY | O_CLOEXEC));
    if (full.get() < 0) GTEST_SKIP() << "no /dev/full";
    auto writer = make_fd_writer(std::move(full), "/srv/site", "a/b.html");
    try {
        writer->write("x", 1);
        FAIL() << "wrote to /dev/full";
    } catch (const Error& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find("target /srv/site: cannot write 'a/b.html'"), std::string::npos) << message;
        EXPECT_NE(message.find("free space on the target"), std::string::npos) << message;
    }
}

TEST(PosixWriter, AFailedFlushIsNotRetried) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    Fd read_end(fds[0]);
    auto writer = make_fd_writer(Fd(fds[1]), "t", "p");
    EXPECT_THROW(writer->commit(Flush::Now), Error);  // fsync of a pipe: EINVAL
    try {
        writer->commit(Flush::Now);
        FAIL() << "a second commit was attempted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("already committed"), std::string::npos) << e.what();
    }
}

TEST(PosixWriter, NoFlushCommitOnlyCloses) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    Fd read_end(fds[0]);
    auto writer = make_fd_writer(Fd(fds[1]), "t", "p");
    writer->write("ab", 2);
    EXPECT_NO_THROW(writer->commit(Flush::Deferred));  // no fsync, so the pipe is fine
    char buffer[4];
    EXPECT_EQ(::read(read_end.get(), buffer, sizeof buffer), 2);
    EXPECT_EQ(::read(read_end.get(), buffer, sizeof buffer), 0);  // closed
}

TEST(ThrowErrno, MapsErrnoToTheExceptionType) {
    const std::string target = "T", path = "p";
    EXPECT_THROW(throw_errno({target, "x", path}, ENOENT), NotFound);
    EXPECT_THROW(throw_errno({target, "x", path}, EEXIST), AlreadyExists);
    try {
        throw_errno({target, "x", path}, EACCES);
    } catch (const NotFound&) {
        FAIL();
    } catch (const AlreadyExists&) {
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("check the permissions"), std::string::npos) << e.what();
    }
}

TEST(ToTimespec, FloorsNegativeTimes) {
    EXPECT_EQ(to_timespec(-1).tv_sec, -1);
    EXPECT_EQ(to_timespec(-1).tv_nsec, 999'999'999);
    EXPECT_EQ(to_timespec(1'500'000'001).tv_sec, 1);
    EXPECT_EQ(to_timespec(1'500'000'001).tv_nsec, 500'000'001);
    EXPECT_EQ(to_timespec(-2'000'000'000).tv_sec, -2);
    EXPECT_EQ(to_timespec(-2'000'000'000).tv_nsec, 0);
}

class RenameFallback : public ::testing::TestWithParam<bool> {};

TEST_P(RenameFallback, NeverReplaces) {
    testing::TempDir dir;
    testing::write_file(dir.path() / "a", "A");
    testing::write_file(dir.path() / "b", "B");
    fs::create_directory(dir.path() / "d");
    Fd root(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    const bool fallback = GetParam();
    EXPECT_EQ(rename_noreplace(root.get(), "a", root.get(), "b", fallback), EEXIST);
    EXPECT_EQ(rename_noreplace(root.get(), "d", root.get(), "a", fallback), EEXIST);
    EXPECT_EQ(rename_noreplace(root.get(), "missing", root.get(), "x", fallback), ENOENT);
    EXPECT_EQ(rename_noreplace(root.get(), "a", root.get(), "c", fallback), 0);
    EXPECT_EQ(rename_noreplace(root.get(), "d", root.get(), "e", fallback), 0);
    EXPECT_EQ(testing::read_file(dir.path() / "b"), "B");
    EXPECT_EQ(testing::read_file(dir.path() / "c"), "A");
    EXPECT_TRUE(fs::is_directory(dir.path() / "e"));
    EXPECT_FALSE(fs::exists(dir.path() / "a"));
}

INSTANTIATE_TEST_SUITE_P(BothPaths, RenameFallback, ::testing::Values(false, true));

}  // namespace
}  // namespace exmsync::transport::posix
