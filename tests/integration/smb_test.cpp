// smb:// targets against a real Samba smbd on 127.0.0.1 (tools/test-smbd.sh).
// After every push, rsync -rcn --delete between the source and the share's
// folder on disk must find nothing; every refusal must leave the target as
// it was.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "integration/smb_server.hpp"
#include "integration/written_not_read_back.hpp"
#include "support/polling.hpp"

using namespace exmsync::testing;
using namespace exmsync::testing::cli;
using namespace exmsync::testing::smb;
using nlohmann::json;

namespace {

json parse(const CommandResult& r) {
    auto j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out << r.err;
    return j;
}

// Everything on disk under `dir`, state folder included: "" when empty.
std::string contents(const fs::path& dir) {
    std::string out;
    if (!fs::exists(dir)) return "(missing)";
    for (fs::recursive_directory_iterator it(dir), end; it != end; ++it)
        out += fs::relative(it->path(), dir).string() + "\n";
    return out;
}

class SmbPush : public ::testing::Test {
protected:
    void SetUp() override {
        server = std::make_unique<SmbServer>(dir / "smbd");
        make_share_folder(*server, "sync", "site");
        TreeMaker(7).make(src, 30);
    }

    std::string where(const std::string& share = "sync", const std::string& folder = "site") const {
        return shell_quote(server->url(share, folder)) + " " + server->flags();
    }
    CommandResult push(const std::string& extra = "") { return cli_run("push " + q(src) + " " + where() + " " + extra); }
    fs::path on_disk() const { return server->share_dir("sync") / "site"; }

    TempDir dir;
    std::unique_ptr<SmbServer> server;
    fs::path src = dir / "src";
};

TEST_F(SmbPush, InitialNoOpChangeDeletesAndRenames) {
    auto first = push("--json");
    ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
    auto j = parse(first)["targets"][0];
    EXPECT_EQ(j["status"], "updated") << j;
    EXPECT_EQ(rsync_differences(src, on_disk()), "");
    EXPECT_TRUE(fs::exists(on_disk() / ".exmsync/current"));

    auto again = push("--json");
    ASSERT_EQ(again.exit_code, 0) << again.err;
    j = parse(again)["targets"][0];
    EXPECT_EQ(j["status"], "in_sync") << j;

    TreeMaker(7).mutate(src);
    auto diff = cli_run("diff " + q(src) + " " + where());
    EXPECT_EQ(diff.exit_code, 1) << diff.err;
    EXPECT_NE(diff.out.find("R  "), std::string::npos) << diff.out;
    auto changed = push("--json");
    ASSERT_EQ(changed.exit_code, 0) << changed.err;
    j = parse(changed)["targets"][0];
    EXPECT_EQ(j["status"], "updated") << j;
    EXPECT_GT(j["counts"]["renames"].get<int>(), 0) << j;
    EXPECT_GT(j["counts"]["deletes"].get<int>(), 0) << j;
    EXPECT_EQ(rsync_differences(src, on_disk()), "");
    EXPECT_EQ(cli_run("diff " + q(src) + " " + where()).exit_code, 0);
    EXPECT_EQ(leftovers(on_disk()), "");

    // The times pushed are the source's, to the microsecond SMB lets us set.
    auto src_time = run("stat -c %.6Y " + q(src / "App_Config/Sitecore.EXM.config")).out;
    auto dst_time = run("stat -c %.6Y " + q(on_disk() / "App_Config/Sitecore.EXM.config")).out;
    EXPECT_EQ(src_time, dst_time);

    auto history = cli_run("history --json " + where());
    ASSERT_EQ(history.exit_code, 0) << history.err;
    EXPECT_EQ(parse(history)["applies"].size(), 3u);
}

// Names with spaces, non-ASCII letters and URL syntax travel as they are.
TEST_F(SmbPush, NamesWithSpacesAndNonAscii) {
    write_file(src / "mit Leerzeichen/Grüße ñ 日本.html", "x");
    write_file(src / "100% #1 & more;.html", "y");
    write_file(src / std::string(40, 'l') / std::string(60, 'o') / std::string(80, 'n') / "g.html", "z");
    auto r = push();
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(rsync_differences(src, on_disk()), "");
    EXPECT_TRUE(fs::exists(on_disk() / "mit Leerzeichen/Grüße ñ 日本.html"));
}

// --verify full hashes every file on the share, so an edit that kept size
// and mtime is found.
TEST_F(SmbPush, VerifyFullFindsAnEditThatKeptSizeAndMtime) {
    ASSERT_EQ(run("find " + q(src) + " -type f -exec touch -d 2024-01-01T12:00:00 {} +").exit_code, 0);
    ASSERT_EQ(push().exit_code, 0);
    ASSERT_EQ(push().exit_code, 0);
    fs::path edited = on_disk() / "d0/t0.html";
    auto r = run("f=" + q(edited) + "; cp -p \"$f\" \"$f.ref\" && tr 'a-z' 'b-za' <\"$f.ref\" >\"$f\" && "
                 "touch -r \"$f.ref\" \"$f\" && rm \"$f.ref\"");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto full = cli_run("diff --verify full " + q(src) + " " + where());
    EXPECT_EQ(full.exit_code, 1) << full.out << full.err;
    EXPECT_NE(full.out.find("d0/t0.html"), std::string::npos) << full.out;
    auto pushed = cli_run("push --verify full " + q(src) + " " + where());
    EXPECT_EQ(pushed.exit_code, 0) << pushed.err;
    EXPECT_EQ(rsync_differences(src, on_disk()), "");
}

// What a push wrote is not read back by the next (written_not_read_back.hpp).
TEST_F(SmbPush, FilesAPushWroteAreNotReadBack) {
    expect_written_files_not_read_back(src, on_disk(), [&](const std::string& verb, const std::string& extra) {
        return cli_run(verb + " " + q(src) + " " + where() + " " + extra);
    });
}

// The share's own folder is the target when the URL names no folder.
TEST_F(SmbPush, ShareRootAsTarget) {
    auto r = cli_run("push " + q(src) + " " + shell_quote(server->url("nocase")) + " " + server->flags());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(rsync_differences(src, server->share_dir("nocase")), "");
}

// The user's ~/.smb/smb.conf cannot make exmsync speak SMB1 (the test server
// refuses it, so the push would fail if the file were obeyed).
TEST_F(SmbPush, UserSmbConfDoesNotWeakenTheClient) {
    fs::path home = dir / "home";
    write_file(home / ".smb/smb.conf",
               "[global]\n  client min protocol = NT1\n  client max protocol = NT1\n  client signing = disabled\n");
    auto r = run("HOME=" + q(home) + " " + shell_quote(kExmsync) + " push " + q(src) + " " + where());
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(rsync_differences(src, on_disk()), "");
}

// The password from the environment works without a credentials file.
TEST_F(SmbPush, PasswordFromTheEnvironment) {
    auto r = run("EXMSYNC_SMB_PASSWORD=" + shell_quote(server->password()) + " " + shell_quote(kExmsync) + " push " +
                 q(src) + " " + shell_quote(server->url("sync", "site")));
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(rsync_differences(src, on_disk()), "");
}

// Encryption asked for, on a share that requires it and on one that only
// offers it.
TEST_F(SmbPush, EncryptionRequiredWhereTheServerOffersIt) {
    make_share_folder(*server, "secure", "site");
    auto r = cli_run("push " + q(src) + " " + where("secure") + " --smb-encrypt");
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(rsync_differences(src, server->share_dir("secure") / "site"), "");
    auto plain = push("--smb-encrypt");
    EXPECT_EQ(plain.exit_code, 0) << plain.out << plain.err;
    EXPECT_EQ(rsync_differences(src, on_disk()), "");
}

// A symlink planted on the share (hidden by follow symlinks = no) is never
// written through: the folder it points to stays empty.
TEST_F(SmbPush, NothingIsWrittenThroughASymlink) {
    make_share_folder(*server, "sync", "elsewhere");
    fs::create_directory_symlink("../elsewhere", on_disk() / "d0");
    run("chown -h exmsynctest: " + q(on_disk() / "d0"));
    auto r = push();
    EXPECT_NE(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(contents(server->share_dir("sync") / "elsewhere"), "");
    EXPECT_TRUE(fs::is_symlink(on_disk() / "d0"));
}

// ---- refusals: each before anything is written ----

class SmbRefusals : public SmbPush {
protected:
    // Pushes with `args` after the source; must fail, leave the target
    // folder empty, and say every one of `expected`.
    void expect_refused(const std::string& args, const std::vector<std::string>& expected,
                        const std::string& prefix = "", const fs::path& folder = {}) {
        auto r = run(prefix + " " + shell_quote(kExmsync) + " push " + q(src) + " " + args);
        EXPECT_EQ(r.exit_code, 1) << args << "\n" << r.out << r.err;
        for (const auto& e : expected) EXPECT_NE(r.err.find(e), std::string::npos) << "no '" << e << "' in " << r.err;
        fs::path checked = folder.empty() ? on_disk() : folder;
        EXPECT_EQ(contents(checked), "") << "something was written for: " << args;
        last = r;
    }
    CommandResult last;
};

TEST_F(SmbRefusals, WrongPasswordOpensNoGuestSession) {
    fs::path creds = dir / "wrong";
    write_file(creds, "username=exmsynctest\npassword=not-the-password\ndomain=WORKGROUP\n");
    fs::permissions(creds, fs::owner_read | fs::owner_write);
    // test-smbd.sh's own probe logged on before: once its session is gone,
    // what the server logs from here on is this push's.
    ASSERT_TRUE(wait_for([&] { return server->sessions().find("exmsynctest") == std::string::npos; }))
        << server->sessions();
    const std::size_t logged_before = server->log().size();
    expect_refused(shell_quote(server->url("sync", "site")) + " --smb-credentials " + q(creds),
                   {server->url("sync", "site"), "refused the logon of WORKGROUP\\exmsynctest", "check the password"});
    EXPECT_EQ(last.err.find("not-the-password"), std::string::npos);
    // The server saw a failed logon, and no session (guest or other) is left.
    std::string log = server->log().substr(logged_before);
    EXPECT_NE(log.find("status [NT_STATUS_WRONG_PASSWORD]"), std::string::npos) << log;
    // No successful logon: an anonymous or guest retry after the failure
    // would be one.
    EXPECT_EQ(log.find("status [NT_STATUS_OK]"), std::string::npos) << log;
    EXPECT_EQ(log.find("guest"), std::string::npos) << log;
    std::string sessions = server->sessions();
    EXPECT_EQ(sessions.find("nobody"), std::string::npos) << sessions;
    EXPECT_EQ(sessions.find("exmsynctest"), std::string::npos) << sessions;
}

TEST_F(SmbRefusals, UnknownUserIsNotMappedToGuest) {
    fs::path creds = dir / "stranger";
    write_file(creds, "username=stranger\npassword=whatever\n");
    fs::permissions(creds, fs::owner_read | fs::owner_write);
    expect_refused(shell_quote("smb://127.0.0.1:" + (*server)["SMBD_PORT"] + "/sync/site") + " --smb-credentials " +
                       q(creds),
                   {"refused the logon of WORKGROUP\\stranger"});
}

TEST_F(SmbRefusals, MissingShare) {
    expect_refused(where("nosuchshare", "site"), {"has no share 'nosuchshare'", "check the share name"});
}

TEST_F(SmbRefusals, MissingFolder) {
    expect_refused(where("sync", "site/nope"), {"does not exist"});
}

TEST_F(SmbRefusals, ReadOnlyShare) {
    make_share_folder(*server, "readonly", "site");
    expect_refused(where("readonly", "site"), {server->url("readonly", "site"), "access denied"}, "",
                   server->share_dir("readonly") / "site");
}

TEST_F(SmbRefusals, PasswordInTheUrl) {
    std::string url = "smb://exmsynctest:" + server->password() + "@127.0.0.1:" + (*server)["SMBD_PORT"] + "/sync/site";
    expect_refused(shell_quote(url) + " " + server->flags(), {"a password in the URL is refused", "--smb-credentials"});
    EXPECT_EQ(last.err.find(server->password()), std::string::npos) << last.err;
    EXPECT_EQ(last.out.find(server->password()), std::string::npos) << last.out;
}

TEST_F(SmbRefusals, WorldReadableCredentialsFile) {
    fs::path creds = dir / "creds";
    fs::copy_file((*server)["SMB_CREDENTIALS"], creds);
    fs::permissions(creds, fs::owner_read | fs::owner_write | fs::group_read | fs::others_read);
    expect_refused(shell_quote(server->url("sync", "site")) + " --smb-credentials " + q(creds),
                   {creds.string(), "readable by others (mode 0644)", "chmod 600 " + creds.string()});
    // The same file at mode 600 is accepted: the refusal was the mode.
    fs::permissions(creds, fs::owner_read | fs::owner_write);
    auto r = cli_run("push " + q(src) + " " + shell_quote(server->url("sync", "site")) + " --smb-credentials " + q(creds));
    EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(SmbRefusals, NoPasswordAnywhere) {
    expect_refused(shell_quote(server->url("sync", "site")), {"no password", "--smb-credentials", "EXMSYNC_SMB_PASSWORD"},
                   "env -u EXMSYNC_SMB_PASSWORD");
}

TEST_F(SmbRefusals, ClosedPort) {
    server->stop();
    expect_refused(where(), {"cannot connect to 127.0.0.1:" + (*server)["SMBD_PORT"]});
}

// A server that offers no encryption at all: --smb-encrypt refuses it, and
// the same push without it goes through (so the refusal was the encryption).
TEST(SmbEncryption, RequiredButNotOffered) {
    TempDir dir;
    SmbServer server(dir / "smbd", "TEST_SMBD_ENCRYPTION=off");
    make_share_folder(server, "sync", "site");
    TreeMaker(5).make(dir / "src");
    std::string target = shell_quote(server.url("sync", "site")) + " " + server.flags();
    auto r = cli_run("push " + q(dir / "src") + " " + target + " --smb-encrypt --json");
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("--smb-encrypt requires encryption and the server does not offer it"), std::string::npos)
        << r.out;
    EXPECT_FALSE(json::parse(r.out, nullptr, false).is_discarded()) << "stdout is not one JSON object: " << r.out;
    EXPECT_EQ(contents(server.share_dir("sync") / "site"), "");
    auto plain = cli_run("push " + q(dir / "src") + " " + target);
    EXPECT_EQ(plain.exit_code, 0) << plain.err;
}

// A smbd that does not accept a login in time: the start fails, saying so,
// and stops the smbd it started. (It used to wait on that smbd, for ever:
// a loaded machine once hung a test there until ctest's timeout.)
TEST(SmbServerScript, StartThatTimesOutFailsAndLeavesNoSmbd) {
    TempDir dir;
    const fs::path state = dir / "smbd";
    auto r = run("TEST_SMBD_START_SECONDS=0 timeout 120 bash " + shell_quote(kScript) + " start " + q(state));
    EXPECT_NE(r.exit_code, 124) << "the start hung";
    EXPECT_NE(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.err.find("did not accept a login within 0 s"), std::string::npos) << r.err;
    EXPECT_NE(run("pgrep -f -- " + shell_quote("[s]mbd .*-s " + (state / "smb.conf").string())).exit_code, 0)
        << "a smbd of the failed start is still running";
    run("bash " + shell_quote(kScript) + " stop " + q(state));
}

// ---- a case-insensitive share (case sensitive = no, like Windows) ----

class SmbNoCase : public SmbPush {
protected:
    void SetUp() override {
        server = std::make_unique<SmbServer>(dir / "smbd");
        make_share_folder(*server, "nocase", "site");
        TreeMaker(3).make(src, 4);
    }
    std::string target() const { return where("nocase", "site"); }
    fs::path disk() const { return server->share_dir("nocase") / "site"; }
};

TEST_F(SmbNoCase, CaseOnlyRename) {
    write_file(src / "Welcome.html", "welcome");
    write_file(src / "Folder/Inner.html", "inner");
    auto first = cli_run("push " + q(src) + " " + target());
    ASSERT_EQ(first.exit_code, 0) << first.err;
    fs::rename(src / "Welcome.html", src / "welcome.html");
    fs::rename(src / "Folder/Inner.html", src / "Folder/INNER.html");
    auto diff = cli_run("diff " + q(src) + " " + target());
    EXPECT_EQ(diff.exit_code, 1) << diff.out << diff.err;
    auto r = cli_run("push --json " + q(src) + " " + target());
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(parse(r)["targets"][0]["status"], "updated");
    EXPECT_TRUE(fs::exists(disk() / "welcome.html"));
    EXPECT_FALSE(fs::exists(disk() / "Welcome.html"));
    EXPECT_TRUE(fs::exists(disk() / "Folder/INNER.html"));
    EXPECT_FALSE(fs::exists(disk() / "Folder/Inner.html"));
    EXPECT_EQ(rsync_differences(src, disk()), "");
    EXPECT_EQ(cli_run("diff " + q(src) + " " + target()).exit_code, 0);
    EXPECT_EQ(leftovers(disk()), "");
}

TEST_F(SmbNoCase, CaseCollisionIsRefusedBeforeAnythingIsWritten) {
    write_file(src / "A.html", "upper");
    write_file(src / "a.html", "lower");
    auto r = cli_run("push " + q(src) + " " + target());
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_NE(r.err.find("A.html"), std::string::npos) << r.err;
    EXPECT_EQ(contents(disk()), "");
}

// With --allow-unportable-names the collision reaches the share, which
// refuses the second name: the commit is undone, the target as it was.
TEST_F(SmbNoCase, CaseCollisionForcedThroughIsUndone) {
    auto first = cli_run("push " + q(src) + " " + target());
    ASSERT_EQ(first.exit_code, 0) << first.err;
    TempDir before;
    copy_tree(src, before.path());
    write_file(src / "A.html", "upper");
    write_file(src / "a.html", "lower");
    auto r = cli_run("push --allow-unportable-names " + q(src) + " " + target());
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_EQ(rsync_differences(before.path(), disk()), "");
    EXPECT_EQ(leftovers(disk()), "");
}

}  // namespace
