#include <gtest/gtest.h>

#include "manifest/names.hpp"

using namespace exmsync::manifest;

TEST(WindowsNames, ReservedAndInvalidNames) {
    EXPECT_NE(windows_name_problem("CON"), "");
    EXPECT_NE(windows_name_problem("nul.txt"), "");
    EXPECT_NE(windows_name_problem("com1.html"), "");
    EXPECT_NE(windows_name_problem("LPT9"), "");
    EXPECT_NE(windows_name_problem("trailing."), "");
    EXPECT_NE(windows_name_problem("trailing "), "");
    EXPECT_NE(windows_name_problem("a:b"), "");
    EXPECT_NE(windows_name_problem("what?.html"), "");
    EXPECT_NE(windows_name_problem("pipe|.html"), "");
    EXPECT_EQ(windows_name_problem("console.html"), "");
    EXPECT_EQ(windows_name_problem("com10.html"), "");
    EXPECT_EQ(windows_name_problem("welcome.html"), "");
    // The stem before the first dot, with trailing spaces dropped, in any case.
    EXPECT_NE(windows_name_problem("Aux  .txt"), "");
    EXPECT_NE(windows_name_problem("prn.tar.gz"), "");
    EXPECT_NE(windows_name_problem("Com7"), "");
    EXPECT_EQ(windows_name_problem("com0.txt"), "");
    EXPECT_EQ(windows_name_problem("com.txt"), "");
    EXPECT_EQ(windows_name_problem("nu.txt"), "");
    EXPECT_EQ(windows_name_problem(".nul"), "");
}

TEST(NameChecker, CaseAndUnicodeCollisionsAmongSiblingsOnly) {
    NameChecker checker;
    auto dir = [](std::string p) { return Entry{std::move(p), EntryType::Directory, 0, {}}; };
    auto file = [](std::string p) { return Entry{std::move(p), EntryType::File, 0, {}}; };
    checker.add(dir("a"));
    checker.add(file("a/Caf\xc3\xa9.html"));   // NFC
    checker.add(file("a/Cafe\xcc\x81.html"));  // NFD of the same name
    checker.add(dir("b"));
    checker.add(file("b/Caf\xc3\xa9.html"));   // another folder: fine
    checker.add(file("b/README"));
    checker.add(file("b/readme"));
    ASSERT_EQ(checker.problems().size(), 2u);
    EXPECT_EQ(checker.count(), 2u);
    EXPECT_NE(checker.problems()[0].find("Unicode normalization"), std::string::npos) << checker.problems()[0];
    EXPECT_NE(checker.problems()[1].find("differ only in case"), std::string::npos);
    EXPECT_NE(checker.problems()[1].find("b/README"), std::string::npos);
}

TEST(WindowsNames, EachRuleIsNamed) {
    EXPECT_NE(windows_name_problem("web.config:payload").find("alternate data stream"), std::string::npos);
    EXPECT_NE(windows_name_problem("a\\b").find("folder separator"), std::string::npos);
    EXPECT_NE(windows_name_problem("CON").find("reserved device name"), std::string::npos);
    EXPECT_NE(windows_name_problem("promo.html.").find("dot or space"), std::string::npos);
    EXPECT_NE(windows_name_problem("tab\there").find("control character"), std::string::npos);
}

TEST(NameChecker, KeepsTheFirstProblemsAndCountsTheRest) {
    NameChecker checker;
    for (std::size_t i = 0; i < kMaxNameProblemsKept + 10; ++i)
        checker.add(Entry{"nul" + std::to_string(i) + ".", EntryType::File, 0, {}});
    EXPECT_EQ(checker.problems().size(), kMaxNameProblemsKept);
    EXPECT_EQ(checker.count(), kMaxNameProblemsKept + 10);
}
