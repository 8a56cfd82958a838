// The platform layer's processes, through its own interface only (Linux and,
// cross-built, Windows under Wine).
#include "platform/process.hpp"

#include <gtest/gtest.h>

#include <boost/filesystem.hpp>
#include <cstdio>
#include <cstdlib>

#include "platform/files.hpp"

namespace exmsync::platform {
namespace {

TEST(Process, ThisProcessIsAliveAndKnowsItsProgram) {
    EXPECT_TRUE(process_alive(process_id()));
    EXPECT_FALSE(process_start_time(process_id()).empty());
    EXPECT_EQ(process_start_time(process_id()), process_start_time(process_id()));
    const std::string program = executable_path();
    ASSERT_FALSE(program.empty());
    EXPECT_TRUE(boost::filesystem::is_regular_file(program)) << program;
    EXPECT_EQ(utc_now().size(), 20u);  // 2026-11-28T20:15:03Z
}

TEST(Process, EnvironmentInUtf8) {
    // Set through the C runtime, which also sets the process's own block.
#ifdef _WIN32
    ASSERT_EQ(::_wputenv_s(L"EXMSYNC_TEST_VALUE", L"caf\u00e9"), 0);
#else
    ASSERT_EQ(::setenv("EXMSYNC_TEST_VALUE", "caf\xc3\xa9", 1), 0);
#endif
    EXPECT_EQ(environment("EXMSYNC_TEST_VALUE"), "caf\xc3\xa9");
    EXPECT_EQ(environment("EXMSYNC_TEST_NOT_SET"), "");
}

TEST(Process, StdoutOfACLibraryIsCaught) {
    const std::string caught = capture_stdout([] {
        std::printf("printed by a library\n");
        std::fflush(stdout);
    });
    EXPECT_EQ(caught, "printed by a library\n");
    // And stdout is back: nothing below is caught.
    EXPECT_EQ(capture_stdout([] {}), "");
}

TEST(Process, AMissingLibraryIsAnErrorWithTheSystemsReason) {
    std::string why;
    EXPECT_EQ(load_library("libexmsync-does-not-exist.so.9", why), nullptr);
    EXPECT_NE(why.find("libexmsync-does-not-exist"), std::string::npos) << why;
}

TEST(Files, AccessOfASecret) {
    const auto file = boost::filesystem::temp_directory_path() / boost::filesystem::unique_path("exmsync-%%%%-%%%%");
    std::FILE* f = std::fopen(file.string().c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fclose(f);
    boost::filesystem::permissions(file, boost::filesystem::owner_read | boost::filesystem::owner_write);
    Access access;
    ASSERT_FALSE(access_of(file.string(), access));
    EXPECT_EQ(access.kind, Kind::File);
    EXPECT_EQ(access.mode & 077u, 0u);
    EXPECT_TRUE(access.mine);
    boost::filesystem::remove(file);
    EXPECT_EQ(access_of(file.string(), access).code, Errc::not_found);
}

}  // namespace
}  // namespace exmsync::platform
