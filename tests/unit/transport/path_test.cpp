// Path checking: the one gate every backend's paths go through.
#include "transport/path.hpp"

#include <gtest/gtest.h>

#include "support/temp_tree.hpp"
#include "transport/local.hpp"
#include "transport/transport.hpp"

namespace exmsync::transport {
namespace {

using Parts = std::vector<std::string>;

TEST(SplitPath, RootIsEmpty) { EXPECT_EQ(split_path("t", ""), Parts{}); }

TEST(SplitPath, SplitsOnSlash) {
    EXPECT_EQ(split_path("t", "a"), Parts{"a"});
    EXPECT_EQ(split_path("t", "layouts/Email Campaign/x.html"), (Parts{"layouts", "Email Campaign", "x.html"}));
}

TEST(SplitPath, DotsInsideNamesAreFine) {
    EXPECT_EQ(split_path("t", ".hidden/..a/a../.../x.y"), (Parts{".hidden", "..a", "a..", "...", "x.y"}));
    EXPECT_EQ(split_path("t", "caf\xc3\xa9"), Parts{"caf\xc3\xa9"});
}

TEST(QuotePath, EscapesControlBytes) {
    EXPECT_EQ(quote_path("a b"), "'a b'");
    EXPECT_EQ(quote_path("a\nb\x7f"), "'a\\x0ab\\x7f'");
    EXPECT_EQ(quote_path(""), "'' (the root)");
}

const std::vector<std::string> kBadPaths = {
    "/",  "/a",   "a/",      "a//b",   ".",     "..",   "a/..", "../a", "a/./b",
    "//", "./a",  "a/.",  std::string("a\0b", 3), std::string(1, '\0'),
};

#ifndef _WIN32
// On Linux a backslash is an ordinary byte of a name: a target file called
// so (dropped there by some other tool) must stay reachable, to be removed.
TEST(SplitPath, BackslashIsPartOfANameOnLinux) {
    EXPECT_EQ(split_path("t", "a\\b/c"), (Parts{"a\\b", "c"}));
    testing::TempDir dir;
    testing::write_file(dir.path() / "a\\b", "odd");
    auto t = make_local_transport(dir.path());
    t->remove("a\\b");
    EXPECT_FALSE(boost::filesystem::exists(dir.path() / "a\\b"));
}
#endif

class BadPath : public ::testing::TestWithParam<std::string> {};

TEST_P(BadPath, SplitRefusesItNamingTargetAndPath) {
    try {
        split_path("/srv/site", GetParam());
        FAIL() << "accepted " << quote_path(GetParam());
    } catch (const NotFound&) {
        FAIL() << "a refused path must not look like a missing one";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("/srv/site"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("refusing path"), std::string::npos) << e.what();
        EXPECT_EQ(std::string(e.what()).find('\0'), std::string::npos);
    }
}

// Every method of the local backend refuses the path before touching anything.
TEST_P(BadPath, EveryLocalMethodRefusesIt) {
    testing::TempDir dir;
    boost::filesystem::create_directory(dir.path() / "a");
    testing::write_file(dir.path() / "a" / "b", "keep");
    auto t = make_local_transport(dir.path());
    const std::string& bad = GetParam();
    EXPECT_THROW(t->stat(bad), Error);
    EXPECT_THROW(t->list(bad), Error);
    EXPECT_THROW(t->open_read(bad), Error);
    EXPECT_THROW(t->create(bad), Error);
    EXPECT_THROW(t->rename(bad, "x"), Error);
    EXPECT_THROW(t->rename("a/b", bad), Error);
    EXPECT_THROW(t->remove(bad), Error);
    EXPECT_THROW(t->mkdir(bad), Error);
    EXPECT_THROW(t->set_mtime(bad, 0), Error);
    EXPECT_THROW(t->flush_dir(bad), Error);
    EXPECT_EQ(testing::read_file(dir.path() / "a" / "b"), "keep");
    EXPECT_FALSE(boost::filesystem::exists(dir.path() / "x"));
    EXPECT_EQ(t->list("").size(), 1u);
    EXPECT_EQ(t->list("a").size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Refused, BadPath, ::testing::ValuesIn(kBadPaths));

}  // namespace
}  // namespace exmsync::transport
