// open_transport's scheme table and redact_url.
#include <gtest/gtest.h>

#include "support/temp_tree.hpp"
#include "transport/transport.hpp"

namespace exmsync::transport {
namespace {

namespace fs = boost::filesystem;

std::string error_of(const std::string& url) {
    try {
        open_transport(url);
    } catch (const Error& e) {
        return e.what();
    }
    return "(opened)";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(OpenTransport, PlainPathIsLocal) {
    testing::TempDir dir;
    auto t = open_transport(dir.path().string());
    EXPECT_EQ(t->describe(), dir.path().string());
    EXPECT_EQ(*t->local_path(), dir.path());
}

TEST(OpenTransport, BackslashesInAPlainPathAreSlashes) {
    testing::TempDir dir;
    fs::create_directories(dir.path() / "Website" / "layouts");
    testing::write_file(dir.path() / "Website" / "layouts" / "x", "x");
    auto t = open_transport(dir.path().string() + "\\Website\\layouts");
    EXPECT_TRUE(t->stat("x"));
}

TEST(OpenTransport, FileUrls) {
    testing::TempDir dir;
    fs::create_directory(dir.path() / "with space");
    testing::write_file(dir.path() / "with space" / "x", "x");
    // file:///tmp/x on Linux, file:///C:/Users/x on Windows.
    const std::string path = (dir.path().generic_string()[0] == '/' ? "" : "/") + dir.path().generic_string();
    EXPECT_TRUE(open_transport("file://" + path + "/with%20space")->stat("x"));
    EXPECT_TRUE(open_transport("FILE://localhost" + path + "/with space")->stat("x"));
}

TEST(OpenTransport, FileUrlWithAnotherHostOrBadEscapeIsRefused) {
    EXPECT_TRUE(contains(error_of("file://server/share"), "mount"));
    EXPECT_TRUE(contains(error_of("file://localhost"), "file:///path"));
    EXPECT_TRUE(contains(error_of("file:///tmp/%zz"), "%-escape"));
    EXPECT_TRUE(contains(error_of("file:///tmp/a%00b"), "%-escape"));
}

TEST(OpenTransport, MissingRootSaysWhatToDo) {
    const std::string message = error_of("/nonexistent/exmsync/root");
    EXPECT_TRUE(contains(message, "/nonexistent/exmsync/root")) << message;
    EXPECT_TRUE(contains(message, "does not exist or is not a folder; check the path or mount")) << message;
    EXPECT_TRUE(contains(error_of(""), "no target given"));
}

TEST(OpenTransport, PasswordsInUrlsAreRefusedAndHidden) {
    const std::string ssh = error_of("ssh://deploy:hunter2@cm2.corp.local/srv/site");
#ifdef EXMSYNC_WITH_SSH
    EXPECT_TRUE(contains(ssh, "a password in the URL is refused; use a key or the ssh-agent")) << ssh;
#else
    EXPECT_TRUE(contains(ssh, "give --rsh ssh")) << ssh;
#endif
    EXPECT_FALSE(contains(ssh, "hunter2")) << ssh;
    const std::string smb = error_of("smb://CORP;deploy:hunter2@dds1/wwwroot/Website");
#ifdef EXMSYNC_WITH_SMB
    EXPECT_TRUE(contains(smb, "a password in the URL is refused")) << smb;
#elif defined(_WIN32)
    EXPECT_TRUE(contains(smb, "give the share as a UNC path")) << smb;
#else
    EXPECT_TRUE(contains(smb, "smb:// is not supported by this build yet")) << smb;
#endif
    EXPECT_FALSE(contains(smb, "hunter2")) << smb;
}

TEST(OpenTransport, UnknownSchemeIsRefused) {
    EXPECT_TRUE(contains(error_of("ftp://host/x"), "unknown scheme ftp://"));
}

TEST(OpenTransport, WindowsSharePathAsksForAMount) {
#ifdef _WIN32
    GTEST_SKIP() << "a share path is local on Windows";
#endif
    const std::string message = error_of("\\\\server\\share\\Website");
    EXPECT_TRUE(contains(message, "Windows share path")) << message;
    EXPECT_TRUE(contains(message, "mount")) << message;
}

// Every place a location cannot be reached gives the same advice, so that no
// message sends the user on to another that cannot help either.
TEST(OpenTransport, UnreachableLocationsGiveOneAdvice) {
#ifdef _WIN32
    GTEST_SKIP() << "drive and share paths are local on Windows";
#endif
    const std::string advice = "mount the server's share or folder on this machine";
    for (const char* location : {"C:\\inetpub\\wwwroot\\Website", "c:/inetpub", "\\\\dds1\\wwwroot\\Website",
                                 "//dds1/wwwroot",
#ifndef EXMSYNC_WITH_SMB
                                 "smb://dds1/wwwroot/Website",  // with the backend, it is reached
#endif
                                 "file://dds1/wwwroot"}) {
        const std::string message = error_of(location);
        EXPECT_TRUE(contains(message, advice)) << location << ": " << message;
        EXPECT_FALSE(contains(message, "use smb://")) << location << ": " << message;
    }
    EXPECT_TRUE(contains(error_of("C:\\inetpub\\wwwroot"), "Windows drive path"));
    // A drive-like name that is not a drive path stays an ordinary folder name.
    EXPECT_TRUE(local_location("C:relative").has_value());
}

TEST(RedactUrl, HidesThePassword) {
    EXPECT_EQ(redact_url("ssh://deploy:secret@host/p"), "ssh://deploy:***@host/p");
    EXPECT_EQ(redact_url("smb://CORP;deploy:pw@dds1:445/share/x"), "smb://CORP;deploy:***@dds1:445/share/x");
    EXPECT_EQ(redact_url("ssh://u:p@ss/w@rd@host/p"), "ssh://u:***@host/p");  // unescaped '@' and '/'
    EXPECT_EQ(redact_url("ssh://u:pw@host/p?x=1@2"), "ssh://u:***@host/p?x=1@2");
}

TEST(RedactUrl, LeavesTheRestAlone) {
    EXPECT_EQ(redact_url("ssh://deploy@host:2222/srv/site"), "ssh://deploy@host:2222/srv/site");
    EXPECT_EQ(redact_url("ssh://host:22/srv/site"), "ssh://host:22/srv/site");
    EXPECT_EQ(redact_url("/srv/user:pass@x"), "/srv/user:pass@x");
    EXPECT_EQ(redact_url("ssh://host/p?user:pw@x"), "ssh://host/p?user:pw@x");
    EXPECT_EQ(redact_url(""), "");
}

}  // namespace
}  // namespace exmsync::transport
