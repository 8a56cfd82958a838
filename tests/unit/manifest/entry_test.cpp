#include <gtest/gtest.h>

#include "manifest/entry.hpp"
#include "manifest/escape.hpp"

using namespace exmsync::manifest;

TEST(ComparePaths, DirectoryComesRightBeforeItsSubtree) {
    // Plain byte order would put "a-c" and "a.txt" between "a" and "a/b".
    EXPECT_LT(compare_paths("a", "a/b"), 0);
    EXPECT_LT(compare_paths("a/b", "a-c"), 0);
    EXPECT_LT(compare_paths("a/zzz", "a.txt"), 0);
    EXPECT_LT(compare_paths("a-c", "a.txt"), 0);
    EXPECT_GT(compare_paths("b", "a/b/c"), 0);
    EXPECT_EQ(compare_paths("x/y", "x/y"), 0);
    EXPECT_LT(compare_paths("\x7f", "\xc3\xa9"), 0);  // bytes compare unsigned
}

TEST(PathProblem, RefusesUnsafePaths) {
    EXPECT_EQ(path_problem("a/b.html"), "");
    EXPECT_NE(path_problem(""), "");
    EXPECT_NE(path_problem("/etc/passwd"), "");
    EXPECT_NE(path_problem("a/../b"), "");
    EXPECT_NE(path_problem(".."), "");
    EXPECT_NE(path_problem("./a"), "");
    EXPECT_NE(path_problem("a//b"), "");
    EXPECT_NE(path_problem("a/"), "");
}

TEST(Hash128, HexRoundTripsAndRefusesBadText) {
    Hash128 h{0x0123456789abcdefULL, 0xfedcba9876543210ULL};
    EXPECT_EQ(h.hex(), "0123456789abcdeffedcba9876543210");
    EXPECT_EQ(Hash128::from_hex(h.hex()), h);
    EXPECT_FALSE(Hash128::from_hex("0123"));
    EXPECT_FALSE(Hash128::from_hex("0123456789ABCDEFfedcba9876543210"));
    EXPECT_FALSE(Hash128::from_hex("0123456789abcdeffedcba987654321g"));
}

TEST(Escape, OddBytesRoundTrip) {
    std::string raw = std::string("tab\there\nnew\\back\rcr\x01\x7f") + "\xff\xfe" + "caf\xc3\xa9" + "\xc3";
    std::string escaped = escape_path(raw);
    EXPECT_EQ(escaped.find('\t'), std::string::npos);
    EXPECT_EQ(escaped.find('\n'), std::string::npos);
    EXPECT_NE(escaped.find("caf\xc3\xa9"), std::string::npos);  // valid UTF-8 stays readable
    EXPECT_NE(escaped.find("\\xff\\xfe"), std::string::npos);
    EXPECT_EQ(unescape_path(escaped), raw);
}

TEST(Escape, RefusesBrokenEscapes) {
    EXPECT_FALSE(unescape_path("a\\"));
    EXPECT_FALSE(unescape_path("a\\q"));
    EXPECT_FALSE(unescape_path("a\\x4"));
    EXPECT_FALSE(unescape_path("a\\xZZ"));
    EXPECT_EQ(unescape_path("a\\x41"), "aA");
}

TEST(Utf8, ValidatesSequences) {
    EXPECT_TRUE(is_valid_utf8("plain"));
    EXPECT_TRUE(is_valid_utf8("\xe2\x82\xac"));
    EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));      // overlong
    EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));  // surrogate
    EXPECT_FALSE(is_valid_utf8("\xe2\x82"));      // truncated
}
