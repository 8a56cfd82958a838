#include <gtest/gtest.h>

#include "manifest/error.hpp"
#include "manifest/filter.hpp"

using namespace exmsync::manifest;

TEST(Glob, NameOnlyPatternsMatchAtAnyDepth) {
    Glob g("*.tmp");
    EXPECT_TRUE(g.matches("a.tmp"));
    EXPECT_TRUE(g.matches("x/y/a.TMP"));
    EXPECT_FALSE(g.matches("a.tmp.html"));
    EXPECT_FALSE(g.matches("a.tmp/b"));
}

TEST(Glob, DoubleStarSpansFolders) {
    Glob g("**/*.config");
    EXPECT_TRUE(g.matches("a.config"));
    EXPECT_TRUE(g.matches("App_Config/Include/x.config"));
    EXPECT_FALSE(g.matches("App_Config/x.config.disabled"));
    Glob mid("layouts/**/Imported/*.html");
    EXPECT_TRUE(mid.matches("layouts/Imported/a.html"));
    EXPECT_TRUE(mid.matches("layouts/EmailCampaign/Imported/a.html"));
    EXPECT_FALSE(mid.matches("layouts/EmailCampaign/Imported/sub/a.html"));
    Glob tail("cache/**");
    EXPECT_TRUE(tail.matches("cache/a/b"));
    EXPECT_FALSE(tail.matches("other/a"));
}

TEST(Glob, SlashPatternsAreAnchoredAndBackslashIsASeparator) {
    Glob g("layouts\\Email*\\*.html");
    EXPECT_TRUE(g.matches("layouts/EmailCampaign/a.html"));
    EXPECT_FALSE(g.matches("x/layouts/EmailCampaign/a.html"));
    EXPECT_FALSE(g.matches("layouts/EmailCampaign/sub/a.html"));
}

TEST(Glob, ClassesAndQuestionMark) {
    EXPECT_TRUE(Glob("file[0-9].html").matches("file7.html"));
    EXPECT_FALSE(Glob("file[!0-9].html").matches("file7.html"));
    EXPECT_TRUE(Glob("file?.html").matches("fileA.html"));
    EXPECT_FALSE(Glob("file?.html").matches("file.html"));
    EXPECT_TRUE(Glob("~$*").matches("docs/~$report.docx"));
}

TEST(Glob, MalformedPatternIsAnErrorNamingIt) {
    try {
        Glob("templates/[abc.html");
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("templates/[abc.html"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("never closed"), std::string::npos);
    }
    EXPECT_THROW(Glob(""), Error);
}

TEST(Filter, DefaultExcludesIncludesAndFolders) {
    Filter f({"**/*.html"}, {"drafts"});
    EXPECT_TRUE(f.excluded("a/Thumbs.db", false));
    EXPECT_TRUE(f.excluded("a/desktop.ini", false));
    EXPECT_TRUE(f.excluded("a/~$x.html", false));
    EXPECT_TRUE(f.excluded("b.tmp", false));
    EXPECT_TRUE(f.excluded("a/drafts", true));
    EXPECT_FALSE(f.excluded("a/b", true));  // folders are walked even if no include names them
    EXPECT_FALSE(f.excluded("a/b/x.html", false));
    EXPECT_TRUE(f.excluded("a/b/x.png", false));
    Filter keep({}, {}, false);
    EXPECT_FALSE(keep.excluded("Thumbs.db", false));
}
