#include "manifest/sorted_file.hpp"

#include <gtest/gtest.h>

#include <random>

#include "manifest/entry.hpp"
#include "support/temp_tree.hpp"

using namespace exmsync::manifest;
using exmsync::testing::read_file;

namespace {

std::vector<std::string> sorted_by(ExternalSorter& sorter) {
    std::vector<std::string> out;
    sorter.finish([&](std::string_view line) { out.emplace_back(line); });
    return out;
}

}  // namespace

TEST(ExternalSorter, SortsInMemoryWhenSmall) {
    ExternalSorter sorter([](std::string_view a, std::string_view b) { return a < b; });
    for (const char* s : {"c", "a", "b"}) sorter.add(s);
    EXPECT_EQ(sorted_by(sorter), (std::vector<std::string>{"a", "b", "c"}));
}

// A tiny memory budget forces many runs and the intermediate merges; the
// result must equal std::stable_sort, ties in the order they were added.
TEST(ExternalSorter, SpillsAndMergesManyRunsStably) {
    auto by_key = [](std::string_view a, std::string_view b) { return a.substr(0, 3) < b.substr(0, 3); };
    ExternalSorter sorter(by_key, 256);
    std::vector<std::string> expected;
    std::mt19937 random(7);
    for (int i = 0; i < 5000; ++i) {
        char key[8];
        std::snprintf(key, sizeof key, "%03u", static_cast<unsigned>(random() % 200));
        std::string record = std::string(key) + ":" + std::to_string(i);
        sorter.add(record);
        expected.push_back(record);
    }
    std::stable_sort(expected.begin(), expected.end(), by_key);
    EXPECT_EQ(sorter.count(), 5000u);
    EXPECT_EQ(sorted_by(sorter), expected);
}

TEST(ExternalSorter, ManifestOrderWithEscapedKeys) {
    exmsync::testing::TempDir dir;
    ExternalSorter sorter([](std::string_view a, std::string_view b) { return compare_paths(a, b) < 0; }, 64);
    for (const char* p : {"a.b", "a/z", "a", "a-b", "b", "a/b/c"}) sorter.add(p);
    sorter.finish(dir / "out");
    EXPECT_EQ(read_file(dir / "out"), "a\na/b/c\na/z\na-b\na.b\nb\n");
}

TEST(LineReader, LastLineWithoutNewline) {
    exmsync::testing::TempDir dir;
    exmsync::testing::write_file(dir / "f", "one\ntwo");
    LineReader in(dir / "f");
    std::string line;
    ASSERT_TRUE(in.next(line));
    EXPECT_EQ(line, "one");
    ASSERT_TRUE(in.next(line));
    EXPECT_EQ(line, "two");
    EXPECT_FALSE(in.next(line));
    EXPECT_EQ(in.line_number(), 2u);
}
