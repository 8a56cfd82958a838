// The CLI as a contract for scripts and people: every --json output, on
// success and on failure, is valid against docs/schema/; reading commands
// never write; diff speaks exactly as push --dry-run; help, suggestions,
// targets as typed, and stdout for results, stderr for everything else.
#include <gtest/gtest.h>

#include "cli/cli_support.hpp"
#include "support/tree_root.hpp"

using namespace exmsync::testing;
using namespace exmsync::testing::cli;

namespace {

const std::string kSchemas = std::string(EXMSYNC_SOURCE_DIR) + "/docs/schema";
const std::string kValidator = std::string(EXMSYNC_SOURCE_DIR) + "/tests/cli/validate_json.py";

// Validates `json` against docs/schema/<schema>.json with Debian's
// python3-jsonschema; "" when valid, else the reasons.
std::string schema_problems(const std::string& json, const std::string& schema) {
    TempDir scratch;
    write_file(scratch / "doc.json", json);
    auto r = run("/usr/bin/python3 " + shell_quote(kValidator) + " " + shell_quote(kSchemas) + " " + schema + " < " +
                 q(scratch / "doc.json"));
    return r.exit_code == 0 ? "" : "invalid " + schema + " output: " + r.out + r.err + "\n" + json;
}

// Runs a command with --json; its stdout must be exactly one valid object,
// an error object exactly when it exits 2. `ok` is false for an error and
// for a push with a failed target (exit 1); a diff that differs (exit 1) ran
// fine and is ok.
nlohmann::json json_run(const std::string& command, const std::string& args, int want_exit) {
    auto r = cli_run(command + " --json " + args);
    EXPECT_EQ(r.exit_code, want_exit) << command << " " << args << "\n" << r.out << r.err;
    EXPECT_EQ(schema_problems(r.out, command), "") << command << " " << args;
    auto doc = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_FALSE(doc.is_discarded()) << "not one JSON object: " << r.out;
    if (doc.is_discarded()) return doc;
    bool want_ok = want_exit == 0 || (want_exit == 1 && command != "push");
    EXPECT_EQ(doc["ok"], want_ok) << r.out;
    EXPECT_EQ(doc.contains("error"), want_exit == 2) << r.out;
    if (want_exit == 2) {
        EXPECT_EQ(schema_problems(r.out, "error"), "");
    }
    return doc;
}

class Contract : public ::testing::Test {
protected:
    void SetUp() override {
        TreeMaker(31).make(src, 6);
        write_file(src / "odd\xff-name.html", "a name that is not UTF-8");
        fs::create_directories(target);
    }
    // `push FLAGS src target` run `seconds` later than now, as a scheduled
    // push would be (under faketime, with its own cache folder).
    CommandResult push_later(int seconds, const std::string& flags = "--json") {
        return run("XDG_CACHE_HOME=" + q(dir / "cache") + " NO_FAKE_STAT=1 faketime -f +" + std::to_string(seconds) +
                   "s " + shell_quote(kExmsync) + " push " + flags + " " + q(src) + " " + q(target));
    }

    TempDir dir;
    fs::path src = dir / "src";
    fs::path target = dir / "t";
};

}  // namespace

// ---- one schema for every command, on success and on failure ----------------

TEST_F(Contract, EveryCommandsJsonMatchesTheSchema) {
    fs::path missing = dir / "missing";
    // manifest
    auto m = json_run("manifest", q(src), 0);
    bool escaped_seen = false;
    for (const auto& e : m["entries"]) escaped_seen = escaped_seen || e.value("escaped", false);
    EXPECT_TRUE(escaped_seen) << "a non-UTF-8 name is a string in escape form, marked";
    json_run("manifest", q(src) + " -o " + q(dir / "m.txt"), 0);
    json_run("manifest", q(missing), 2);
    // diff
    auto d = json_run("diff", q(src) + " " + q(target), 1);
    EXPECT_FALSE(d["changes"].empty());
    json_run("diff", q(src) + " " + q(missing), 2);
    // push: dry run, real, a failing target among good ones, no source
    auto dry = json_run("push", "--dry-run " + q(src) + " " + q(target), 0);
    EXPECT_FALSE(dry["targets"][0]["changes"].empty());
    json_run("push", q(src) + " " + q(target), 0);
    auto partial = json_run("push", q(src) + " " + q(target) + " " + q(missing), 1);
    EXPECT_EQ(partial["targets"][1]["error"]["code"], "unreachable");
    json_run("push", q(missing) + " " + q(target), 2);
    json_run("diff", q(src) + " " + q(target), 0);
    // pack and apply
    TreeMaker(32).mutate(src);
    ASSERT_EQ(cli_run("manifest " + q(target) + " -o " + q(dir / "base")).exit_code, 0);
    json_run("pack", q(src) + " --base " + q(dir / "base") + " -o " + q(dir / "cs.tar.zst"), 0);
    json_run("pack", q(src) + " --base " + q(missing) + " -o " + q(dir / "x.tar.zst"), 2);
    auto applied = json_run("apply", q(dir / "cs.tar.zst") + " " + q(target), 0);
    EXPECT_EQ(applied["status"], "updated");
    EXPECT_EQ(json_run("apply", q(dir / "cs.tar.zst") + " --root " + q(target), 0)["status"], "in_sync");
    json_run("apply", q(missing) + " " + q(target), 2);
    // recover
    write_file(target / ".exmsync/lock", "host=" + host_name() + "\npid=999999999\nsince=2026-01-01T00:00:00Z\n");
    auto r = json_run("recover", q(target), 0);
    EXPECT_EQ(r["broke_stale_lock"], true);
    json_run("recover", q(missing), 2);
    // history
    auto h = json_run("history", q(target), 0);
    EXPECT_EQ(h["applies"][0]["apply_id"], "000000");
    EXPECT_EQ(h["applies"].size(), 3u);
    json_run("history", q(missing), 2);
    // rollback
    auto preview = json_run("rollback", q(target) + " --to 000001 --dry-run", 0);
    EXPECT_EQ(preview["status"], "would_update");
    EXPECT_FALSE(preview["changes"].empty());
    json_run("rollback", q(target) + " --to 000001", 0);
    json_run("rollback", q(target) + " --to 999", 2);
    // usage errors are error objects too
    auto usage = json_run("push", "--dryrun " + q(src) + " " + q(target), 2);
    EXPECT_EQ(usage["error"]["code"], "usage");
}

TEST_F(Contract, ErrorCodesTellFailuresApart) {
    ASSERT_EQ(cli_run("push " + q(src) + " " + q(target)).exit_code, 0);
    TreeMaker(33).mutate(src);
    // locked by a live process (pid 1 stands in for another run)
    write_file(target / ".exmsync/lock", "host=" + host_name() + "\npid=1\nsince=2026-01-01T00:00:00Z\n");
    auto locked = json_run("push", q(src) + " " + q(target), 1);
    EXPECT_EQ(locked["targets"][0]["error"]["code"], "locked");
    fs::remove(target / ".exmsync/lock");
    // a guard
    auto guard = json_run("push", "--max-delete 0 " + q(src) + " " + q(target), 1);
    EXPECT_EQ(guard["targets"][0]["error"]["code"], "guard");
    // the same target twice
    auto twice = json_run("push", q(src) + " " + q(target) + " " + q(target), 2);
    EXPECT_EQ(twice["error"]["code"], "overlap");
}

// ---- reading never writes ------------------------------------------------------

TEST_F(Contract, ManifestAndDiffLeaveWhatTheyReadUntouched) {
    ASSERT_EQ(cli_run("push " + q(src) + " " + q(target)).exit_code, 0);
    TreeMaker(34).mutate(src);
    auto src_before = everything(src), target_before = everything(target);
    std::string env = "XDG_CACHE_HOME=" + q(dir / "cache") + " ";
    for (int pass = 0; pass < 2; ++pass) {
        EXPECT_EQ(run(env + shell_quote(kExmsync) + " manifest " + q(src)).exit_code, 0);
        EXPECT_EQ(run(env + shell_quote(kExmsync) + " diff " + q(src) + " " + q(target)).exit_code, 1);
        EXPECT_EQ(run(env + shell_quote(kExmsync) + " diff --json " + q(target) + " " + q(src)).exit_code, 1);
    }
    EXPECT_EQ(everything(src), src_before);
    EXPECT_EQ(everything(target), target_before);
    EXPECT_FALSE(fs::exists(src / ".exmsync"));
    // The caches live in the user's cache folder, one per folder scanned ...
    EXPECT_GE(std::distance(fs::directory_iterator(dir / "cache/exmsync"), fs::directory_iterator()), 2);
    // ... and serve the next scan (run later than the racy-clean window).
    std::string later = env + "NO_FAKE_STAT=1 faketime -f +5s " + shell_quote(kExmsync) + " manifest --stats " + q(src);
    ASSERT_EQ(run(later).exit_code, 0);
    auto warm = run(later);
    EXPECT_NE(warm.err.find(" hashed_files=0 "), std::string::npos) << warm.err;
    EXPECT_EQ(everything(src), src_before);
}

// A scheduled push that finds nothing to do writes nothing on the target
// either: no lock comes and goes, no stat cache is rewritten. (Run later than
// the racy-clean window, so that the target's stat cache can vouch for the
// files the first push wrote.)
TEST_F(Contract, ANoOpPushWritesNothingOnTheTarget) {
    ASSERT_EQ(cli_run("push " + q(src) + " " + q(target)).exit_code, 0);
    // The first apply recorded no stat for the files it wrote: this push
    // hashes them, under the lock, and writes the target's stat cache.
    auto full = push_later(5);
    ASSERT_EQ(full.exit_code, 0) << full.err;
    const auto target_before = everything(target);
    ASSERT_TRUE(target_before.count(".exmsync/statcache"));

    auto quiet = push_later(10);
    ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
    EXPECT_EQ(nlohmann::json::parse(quiet.out)["targets"][0]["status"], "in_sync") << quiet.out;
    EXPECT_EQ(everything(target), target_before) << "a lock or a stat cache came and went";

    // A hand edit: the full way, under the lock, which reports it as drift.
    write_file(target / "d0/t0.html", "edited by hand");
    auto edited = push_later(15);
    ASSERT_EQ(edited.exit_code, 0) << edited.err;
    EXPECT_EQ(nlohmann::json::parse(edited.out)["targets"][0]["drift_count"], 1) << edited.out;
    EXPECT_EQ(read_file(target / "d0/t0.html"), read_file(src / "d0/t0.html"));
}

// A target settled at the root the source had at its last scan is checked
// while the source is scanned again. That guess must never stand in for the
// source's real root: a changed source is pushed, a hand edit on the target
// is found, and a push under another filter is right too.
TEST_F(Contract, ATargetIsCheckedWhileTheSourceIsScannedOnlyWhenThatCanBeTrusted) {
    ASSERT_EQ(cli_run("push " + q(src) + " " + q(target)).exit_code, 0);
    auto push_later = [&](int seconds, const std::string& flags = "") {
        return Contract::push_later(seconds, "--json -v " + flags);
    };
    const std::string early = "checked early against the source's last root";
    ASSERT_EQ(push_later(5).exit_code, 0);  // the target's stat cache now vouches for its files

    auto quiet = push_later(10);
    ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
    EXPECT_EQ(nlohmann::json::parse(quiet.out)["targets"][0]["status"], "in_sync") << quiet.out;
    EXPECT_NE(quiet.err.find(early), std::string::npos) << quiet.err;

    // The source changed since its last scan: the target, settled at the old
    // root, is brought up to the new one.
    write_file(src / "d0/t0.html", "a new edit in the source");
    auto changed = push_later(15);
    ASSERT_EQ(changed.exit_code, 0) << changed.err;
    EXPECT_EQ(nlohmann::json::parse(changed.out)["targets"][0]["status"], "updated") << changed.out;
    EXPECT_EQ(changed.err.find(early), std::string::npos) << changed.err;
    EXPECT_EQ(read_file(target / "d0/t0.html"), "a new edit in the source");
    ASSERT_EQ(push_later(20).exit_code, 0);

    // A hand edit on the target, with the source as it was at its last scan.
    write_file(target / "d0/t0.html", "edited by hand");
    auto edited = push_later(25);
    ASSERT_EQ(edited.exit_code, 0) << edited.err;
    EXPECT_EQ(nlohmann::json::parse(edited.out)["targets"][0]["drift_count"], 1) << edited.out;
    EXPECT_EQ(read_file(target / "d0/t0.html"), "a new edit in the source");

    // Another filter: the last root was found under the default one.
    auto filtered = push_later(30, "--exclude 'd1/**'");
    ASSERT_EQ(filtered.exit_code, 0) << filtered.err;
    EXPECT_EQ(filtered.err.find(early), std::string::npos) << filtered.err;
    EXPECT_EQ(run("rsync -rcn --delete --exclude=.exmsync --out-format='%n' " + q(src.string() + "/") + " " +
                  q(target.string() + "/")).out, "");
}

// ---- one change vocabulary -------------------------------------------------------

TEST_F(Contract, DiffPrintsWhatPushDryRunPrints) {
    ASSERT_EQ(cli_run("push " + q(src) + " " + q(target)).exit_code, 0);
    TreeMaker(35).mutate(src);
    write_file(target / "hand-made.html", "only on the target");
    auto diff = cli_run("diff " + q(src) + " " + q(target));
    EXPECT_EQ(diff.exit_code, 1);
    auto dry = cli_run("push --dry-run " + q(src) + " " + q(target));
    EXPECT_EQ(dry.exit_code, 0);
    // The dry run indents each change under its target's line.
    std::string lines;
    std::istringstream in(dry.out);
    for (std::string line; std::getline(in, line);)
        if (line.rfind("  ", 0) == 0) lines += line.substr(2) + "\n";
    EXPECT_EQ(lines, diff.out);
    EXPECT_NE(diff.out.find("D  hand-made.html"), std::string::npos) << diff.out;
    EXPECT_NE(diff.out.find("R  "), std::string::npos) << diff.out;
    auto diff_json = nlohmann::json::parse(cli_run("diff --json " + q(src) + " " + q(target)).out);
    auto dry_json = nlohmann::json::parse(cli_run("push --dry-run --json " + q(src) + " " + q(target)).out);
    EXPECT_EQ(diff_json["changes"], dry_json["targets"][0]["changes"]);
    EXPECT_EQ(diff_json["counts"], dry_json["targets"][0]["counts"]);
}

// ---- help and typos ------------------------------------------------------------------

TEST(CliHelp, HelpVersionAndSuggestions) {
    auto help = cli_run("help");
    EXPECT_EQ(help.exit_code, 0);
    for (const char* command : {"manifest", "diff", "push", "pack", "apply", "recover", "history", "rollback"})
        EXPECT_NE(help.out.find(command), std::string::npos) << command;
    auto push_help = cli_run("help push");
    EXPECT_EQ(push_help.exit_code, 0);
    EXPECT_NE(push_help.out.find("Usage: exmsync push"), std::string::npos) << push_help.out;
    EXPECT_EQ(cli_run("push --help").out, push_help.out);
    auto diff_help = cli_run("help diff");
    EXPECT_EQ(diff_help.out.rfind("Show what a push from SOURCE would do to TARGET", 0), 0u) << diff_help.out;
    for (const char* flag : {"-V", "--version"}) {
        auto v = cli_run(flag);
        EXPECT_EQ(v.exit_code, 0);
        EXPECT_EQ(v.out.rfind("exmsync ", 0), 0u) << v.out;
        EXPECT_NE(v.out.find("(Linux "), std::string::npos) << v.out;
    }
    auto typo = cli_run("pusj a b");
    EXPECT_EQ(typo.exit_code, 2);
    EXPECT_NE(typo.err.find("did you mean 'push'?"), std::string::npos) << typo.err;
    auto option = cli_run("push --dryrun a b");
    EXPECT_EQ(option.exit_code, 2);
    EXPECT_NE(option.err.find("did you mean --dry-run?"), std::string::npos) << option.err;
    EXPECT_NE(option.err.find("(see 'exmsync help push')"), std::string::npos) << option.err;
    auto missing = cli_run("rollback somewhere");
    EXPECT_NE(missing.err.find("(see 'exmsync help rollback')"), std::string::npos) << missing.err;
    auto nothing = cli_run("");
    EXPECT_EQ(nothing.exit_code, 2);
    EXPECT_NE(nothing.err.find("Usage: exmsync"), std::string::npos);
}

TEST_F(Contract, TargetsAsTyped) {
    ASSERT_EQ(cli_run("push " + q(src) + " file://" + target.string()).exit_code, 0);
    // history, recover and rollback take the folder positionally or with --root
    auto positional = cli_run("history " + q(target));
    auto option = cli_run("history --root " + q(target));
    EXPECT_EQ(positional.exit_code, 0);
    EXPECT_EQ(positional.out, option.out);
    EXPECT_EQ(cli_run("recover " + q(target)).exit_code, 0);
    EXPECT_EQ(cli_run("rollback " + q(target) + " --to 000000 --dry-run").exit_code, 0);
    // Windows paths on Linux say what to do, with the same advice everywhere.
    for (const std::string& cmd : {std::string("push ") + q(src) + " 'C:\\inetpub\\wwwroot\\Website'",
                                   std::string("diff ") + q(src) + " 'C:\\inetpub\\wwwroot\\Website'",
                                   std::string("history '\\\\dds1\\wwwroot\\Website'"),
#ifndef EXMSYNC_WITH_SMB
                                   std::string("diff ") + q(src) + " smb://dds1/wwwroot/Website",
#endif
                                   }) {
        auto r = cli_run(cmd);
        EXPECT_NE(r.exit_code, 0) << cmd;
        EXPECT_NE(r.err.find("mount the server's share or folder on this machine"), std::string::npos)
            << cmd << ": " << r.err;
    }
    // Listed twice, under two spellings, is one target.
    auto twice = cli_run("push " + q(src) + " " + q(target) + " " + q(target.string() + "/"));
    EXPECT_EQ(twice.exit_code, 2);
    EXPECT_NE(twice.err.find("is listed twice"), std::string::npos) << twice.err;
}

// Results for people on stdout, ending with a summary; warnings and failures
// on stderr; -q drops notes, never warnings.
TEST_F(Contract, StdoutForResultsStderrForTheRest) {
    ASSERT_EQ(cli_run("push " + q(src) + " " + q(target)).exit_code, 0);
    TreeMaker(36).mutate(src);
    auto edited = target / "d1/t1.html";
    write_file(edited, "edited by hand");
    fs::path missing = dir / "missing";
    auto r = cli_run("push " + q(src) + " " + q(target) + " " + q(missing));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.out.find(target.string() + ": wrote "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("2 targets: 1 updated, 0 already in sync, 1 failed\n"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("FAILED"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("was changed on the target"), std::string::npos) << r.out;
    EXPECT_NE(r.err.find(missing.string() + ": FAILED"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("'d1/t1.html' was changed on the target since the last push"), std::string::npos) << r.err;
    // The drift is in the history.
    auto h = nlohmann::json::parse(cli_run("history --json " + q(target)).out);
    EXPECT_EQ(h["applies"].back()["drift"], 1);
    EXPECT_EQ(read_file(target / ".exmsync/history" / (h["applies"].back()["apply_id"].get<std::string>() + ".drift"))
                  .find("\td1/t1.html") != std::string::npos,
              true);
    // Quiet keeps the warning that matters.
    write_file(src / "d0/extra.html", "one more change");
    write_file(edited, "edited by hand again");
    auto quiet = cli_run("-q push " + q(src) + " " + q(target));
    EXPECT_EQ(quiet.exit_code, 0);
    EXPECT_NE(quiet.err.find("was changed on the target"), std::string::npos) << quiet.err;
    auto plural = cli_run("push " + q(src) + " " + q(target));
    EXPECT_NE(plural.out.find("1 target: 0 updated, 1 already in sync"), std::string::npos) << plural.out;
}

// The man page is the help itself, and `cmake --install` puts it, the bash
// completion and the binary where a system looks for them.
TEST(CliHelp, ManPageAndCompletionAreInstalled) {
    TempDir prefix;
    auto install = run("cmake --install " + shell_quote(EXMSYNC_BUILD_DIR) + " --prefix " + q(prefix.path()));
    ASSERT_EQ(install.exit_code, 0) << install.out << install.err;
    EXPECT_TRUE(fs::exists(prefix / "bin/exmsync"));
    std::string page = read_file(prefix / "share/man/man1/exmsync.1");
    for (const char* command : {"manifest", "diff", "push", "pack", "apply", "recover", "history", "rollback"})
        EXPECT_NE(page.find(std::string(".SS ") + command + "\n"), std::string::npos) << command;
    EXPECT_NE(page.find("\\-\\-allow\\-unportable\\-names"), std::string::npos);
    fs::path completion = prefix / "share/bash-completion/completions/exmsync";
    ASSERT_TRUE(fs::exists(completion));
    // Completing "exmsync push --dr" asks the binary for push's options.
    auto complete = run("PATH=" + q(prefix / "bin") + ":$PATH bash -c " +
                        shell_quote("source /usr/share/bash-completion/bash_completion; source " + completion.string() +
                                    "; COMP_WORDS=(exmsync push --dr); COMP_CWORD=2; COMP_LINE='exmsync push --dr';"
                                    " COMP_POINT=${#COMP_LINE}; _exmsync; echo ${COMPREPLY[@]}"));
    EXPECT_EQ(complete.out, "--dry-run\n") << complete.err;
}
