// The local backend's streams and words: what the Transport interface
// cannot reach (write and flush failures). POSIX files (/dev/full, a pipe)
// stand in for a full disk and a file that cannot be flushed.
#include "transport/local_io.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

namespace exmsync::transport::local_io {
namespace {

platform::Handle adopt(int descriptor) {
    platform::Handle out;
    out.native_ = descriptor;
    return out;
}

TEST(PosixWriter, WriteFailureNamesTargetPathAndAdvice) {
    platform::Handle full = adopt(::open("/dev/full", O_WRONLY | O_CLOEXEC));
    if (!full.valid()) GTEST_SKIP() << "no /dev/full";
    auto writer = make_writer(std::move(full), "/srv/site", "a/b.html");
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
    platform::Handle read_end = adopt(fds[0]);
    auto writer = make_writer(adopt(fds[1]), "t", "p");
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
    platform::Handle read_end = adopt(fds[0]);
    auto writer = make_writer(adopt(fds[1]), "t", "p");
    writer->write("ab", 2);
    EXPECT_NO_THROW(writer->commit(Flush::Deferred));  // no fsync, so the pipe is fine
    char buffer[4];
    EXPECT_EQ(::read(fds[0], buffer, sizeof buffer), 2);
    EXPECT_EQ(::read(fds[0], buffer, sizeof buffer), 0);  // closed
}

TEST(ThrowFailure, MapsTheCauseToTheExceptionType) {
    const std::string target = "T", path = "p";
    EXPECT_THROW(throw_failure({target, "x", path}, {platform::Errc::not_found, ENOENT}), NotFound);
    EXPECT_THROW(throw_failure({target, "x", path}, {platform::Errc::exists, EEXIST}), AlreadyExists);
    try {
        throw_failure({target, "x", path}, {platform::Errc::access, EACCES});
    } catch (const NotFound&) {
        FAIL();
    } catch (const AlreadyExists&) {
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("check the permissions"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace exmsync::transport::local_io
