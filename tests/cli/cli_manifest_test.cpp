// End-to-end tests of `exmsync manifest` and `exmsync diff`: the built binary,
// real trees on disk, exit codes and output as a user sees them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "support/temp_tree.hpp"

using namespace exmsync::testing;

namespace {

const std::string kExmsync = EXMSYNC_BINARY;

CommandResult cli(const std::string& args) { return run(shell_quote(kExmsync) + " " + args); }

std::string q(const fs::path& p) { return shell_quote(p.string()); }

void make_site(const fs::path& root) {
    write_file(root / "layouts/EmailCampaign/Imported/welcome.html", "<html>Welcome $name$</html>\n");
    write_file(root / "layouts/EmailCampaign/Imported/news/2026-11.html", std::string(50000, 'n'));
    write_file(root / "layouts/EmailCampaign/Imported/news/header.png", std::string(9000, '\x89'));
    write_file(root / "App_Config/Include/EmailExperience/Sitecore.EXM.config", "<configuration/>\n");
}

}  // namespace

TEST(CliManifest, PrintsHashesExactlyAsXxhsum) {
    TempDir site;
    make_site(site.path());
    auto r = cli("manifest " + q(site.path()));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto x = run("cd " + q(site.path()) + " && xxhsum -H2 layouts/EmailCampaign/Imported/news/2026-11.html");
    ASSERT_EQ(x.exit_code, 0);
    EXPECT_NE(r.out.find("f\t50000\t" + x.out.substr(0, 32) + "\tlayouts/EmailCampaign/Imported/news/2026-11.html\n"),
              std::string::npos)
        << r.out;
}

TEST(CliManifest, OutputFileAndJsonCarryTheSameContent) {
    TempDir site, out;
    make_site(site.path());
    auto r = cli("manifest " + q(site.path()) + " -o " + q(out / "m.txt"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = cli("manifest " + q(site.path()) + " --json");
    ASSERT_EQ(j.exit_code, 0) << j.err;
    auto doc = nlohmann::json::parse(j.out);
    std::string text = read_file(out / "m.txt");
    EXPECT_NE(text.find("root\t" + doc["root"].get<std::string>()), std::string::npos);
    EXPECT_EQ(doc["entries"].size(), 11u);  // 4 files, 7 folders
    // A manifest file given back to `manifest` is checked and printed unchanged.
    auto again = cli("manifest " + q(out / "m.txt"));
    EXPECT_EQ(again.exit_code, 0);
    EXPECT_EQ(again.out, text);
}

// -o onto a device or a FIFO writes into it, as a shell redirection would;
// it was renamed onto, which failed ("Invalid cross-device link").
TEST(CliManifest, OutputToADeviceOrAPipeIsWrittenInPlace) {
    TempDir site, out;
    make_site(site.path());
    auto r = cli("manifest " + q(site.path()) + " -o /dev/null");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(fs::exists("/dev/null") && !fs::is_regular_file("/dev/null"));
    ASSERT_EQ(run("mkfifo " + q(out / "fifo")).exit_code, 0);
    auto piped = run("timeout 20 cat " + q(out / "fifo") + " > " + q(out / "copy") + " & " + shell_quote(kExmsync) +
                     " manifest " + q(site.path()) + " -o " + q(out / "fifo") + "; wait");
    EXPECT_EQ(piped.exit_code, 0) << piped.err;
    EXPECT_EQ(read_file(out / "copy"), cli("manifest " + q(site.path())).out);
}

// The scans run a few seconds in the future (Debian's faketime; its own
// shifting of file times turned off), so files written just now are past
// the racy-clean window without waiting for it.
CommandResult later_cli(const std::string& args) {
    return run("NO_FAKE_STAT=1 faketime -f +5s " + shell_quote(kExmsync) + " " + args);
}

TEST(CliManifest, StatsShowTheWarmRescanHashedNothing) {
    TempDir site;
    make_site(site.path());
    auto cold = later_cli("manifest --stats " + q(site.path()));
    ASSERT_EQ(cold.exit_code, 0) << cold.err;
    EXPECT_NE(cold.err.find("hashed_files=4 "), std::string::npos) << cold.err;
    auto warm = later_cli("manifest --stats " + q(site.path()));
    EXPECT_NE(warm.err.find("hashed_bytes=0 cached_files=4"), std::string::npos) << warm.err;
    EXPECT_EQ(warm.out, cold.out);
}

TEST(CliManifest, MissingPathIsExitTwoWithOneLine) {
    TempDir dir;
    auto r = cli("manifest " + q(dir / "nope"));
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("nope"), std::string::npos);
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(CliManifest, BadGlobIsExitTwoAndNothingWritten) {
    TempDir site, out;
    make_site(site.path());
    auto r = cli("manifest " + q(site.path()) + " --exclude '[oops' -o " + q(out / "m"));
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("[oops"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(out / "m"));
    EXPECT_TRUE(fs::is_empty(out.path()));
}

TEST(CliManifest, UnreadableFileIsExitTwoNamingIt) {
    TempDir site;
    make_site(site.path());
    auto secret = site / "layouts/EmailCampaign/Imported/secret.html";
    write_file(secret, "x");
    fs::permissions(secret, fs::no_perms);
    fs::permissions(site.path(), fs::all_all);
    // Root reads every file, so as root the scan runs as nobody.
    std::string prefix = ::geteuid() == 0 ? "setpriv --reuid=65534 --regid=65534 --clear-groups " : "";
    for (fs::recursive_directory_iterator it(site.path()), end; it != end; ++it)
        if (fs::is_directory(it->path())) fs::permissions(it->path(), fs::all_all);
    auto r = run(prefix + shell_quote(kExmsync) + " manifest --no-cache " + q(site.path()));
    EXPECT_EQ(r.exit_code, 2) << r.out;
    EXPECT_NE(r.err.find("secret.html"), std::string::npos) << r.err;
}

TEST(CliManifest, CorruptManifestIsExitTwoWithLineNumber) {
    TempDir dir;
    write_file(dir / "m", "exmsync-manifest\t1\nroot\t00000000000000000000000000000000\nf\t1\tnothex\tx\nend\t1\n");
    auto r = cli("diff " + q(dir / "m") + " " + q(dir / "m"));
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("line 3"), std::string::npos) << r.err;
}

// `diff SOURCE TARGET` says what a push from SOURCE would do to TARGET.
TEST(CliDiff, ExitCodesAndShortOutput) {
    TempDir a, b;
    make_site(a.path());
    make_site(b.path());
    auto same = cli("diff " + q(a.path()) + " " + q(b.path()));
    EXPECT_EQ(same.exit_code, 0) << same.err;
    EXPECT_EQ(same.out, "");

    auto imported = b / "layouts/EmailCampaign/Imported";
    write_file(imported / "welcome.html", "<html>Changed</html>\n");
    fs::rename(imported / "news/header.png", imported / "header-2026.png");
    write_file(imported / "added.html", "new");
    fs::remove(b / "App_Config/Include/EmailExperience/Sitecore.EXM.config");
    auto r = cli("diff " + q(a.path()) + " " + q(b.path()));
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_EQ(r.out,
              "A  App_Config/Include/EmailExperience/Sitecore.EXM.config\n"
              "D  layouts/EmailCampaign/Imported/added.html\n"
              "R  layouts/EmailCampaign/Imported/header-2026.png -> layouts/EmailCampaign/Imported/news/header.png\n"
              "M  layouts/EmailCampaign/Imported/welcome.html\n");

    auto j = cli("diff --json " + q(a.path()) + " " + q(b.path()));
    EXPECT_EQ(j.exit_code, 1);
    auto doc = nlohmann::json::parse(j.out);
    EXPECT_EQ(doc["changes"].size(), 4u);
    EXPECT_EQ(doc["changes"][2]["change"], "renamed");
    EXPECT_EQ(doc["changes"][2]["from"], "layouts/EmailCampaign/Imported/header-2026.png");
    EXPECT_EQ(doc["changes"][2]["path"], "layouts/EmailCampaign/Imported/news/header.png");
}

TEST(CliDiff, MtimesAreNotContent) {
    TempDir a, b;
    make_site(a.path());
    make_site(b.path());
    age(b / "layouts/EmailCampaign/Imported/welcome.html", 1000000000);
    EXPECT_EQ(cli("diff " + q(a.path()) + " " + q(b.path())).exit_code, 0);
}

// The source's names are the ones a push would refuse: diff warns of them.
TEST(CliDiff, FolderAgainstManifestFileAndNameWarnings) {
    TempDir a, out;
    make_site(a.path());
    ASSERT_EQ(cli("manifest " + q(a.path()) + " -o " + q(out / "m")).exit_code, 0);
    write_file(a / "layouts/EmailCampaign/Imported/Welcome.HTML", "other");
    write_file(a / "layouts/EmailCampaign/Imported/con.html", "reserved");
    auto r = cli("diff " + q(a.path()) + " " + q(out / "m"));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("differ only in case"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("reserved device name"), std::string::npos) << r.err;
}

TEST(CliDiff, UsageErrorIsExitTwo) {
    auto r = cli("diff onlyone");
    EXPECT_EQ(r.exit_code, 2);
    auto unknown = cli("frobnicate");
    EXPECT_EQ(unknown.exit_code, 2);
}
