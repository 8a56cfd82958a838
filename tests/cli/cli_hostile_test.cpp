// `exmsync apply` against hostile changeset archives, end to end: each
// archive is applied to a target that a push set up (so it has history), and
// must be refused with one line naming the problem, leaving the target's
// content, everything outside it, and its state folder as they were.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>

#include "cli/cli_support.hpp"

using namespace exmsync::testing;
using namespace exmsync::testing::cli;

namespace {

class HostileApply : public ::testing::Test {
protected:
    void SetUp() override {
        write_file(src / "a.html", "<html>a</html>");
        write_file(src / "b.html", "<html>b</html>");
        write_file(src / "c.html", "<html>c, soon moved</html>");
        write_file(src / "d/e.html", "<html>e</html>");
        write_file(src / "evil/a.html", "<html>evil a</html>");
        write_file(src / "App_Config/Sitecore.EXM.config", "<configuration/>");
        fs::create_directories(target);
        auto push = cli_run("push " + q(src) + " " + q(target));
        ASSERT_EQ(push.exit_code, 0) << push.out << push.err;

        write_file(outside / "sentinel.html", "outside the root");
        write_file(base / "sentinel", "beside the root");
        write_file(tmp_sentinel, "in /tmp");
        tmp_before = read_file(tmp_sentinel) + std::to_string(fs::last_write_time(tmp_sentinel));

        // The changes the genuine changeset carries: a modify, two adds, a
        // delete and a rename.
        write_file(src / "a.html", "<html>a, changed</html>");
        write_file(src / "new.html", "<html>new</html>");
        write_file(src / "d/f.html", "<html>f</html>");
        fs::remove(src / "b.html");
        fs::rename(src / "c.html", src / "d/c-moved.html");
        good = pack_against_target("good.tar.zst");
    }

    void TearDown() override {
        fs::remove(tmp_sentinel);
        fs::remove(tmp_escape);
    }

    fs::path pack_against_target(const std::string& name) {
        auto m = cli_run("manifest " + q(target) + " -o " + q(work / (name + ".base")));
        EXPECT_EQ(m.exit_code, 0) << m.err;
        auto p = cli_run("pack " + q(src) + " --base " + q(work / (name + ".base")) + " -o " + q(work / name));
        EXPECT_EQ(p.exit_code, 0) << p.err;
        return work / name;
    }

    Unpacked unpacked() { return Unpacked::load(good); }

    // The first write of a file the base does not have (no base to check).
    static std::size_t new_write(const Unpacked& c) {
        for (std::size_t i = 0; i < c.meta["ops"].size(); ++i)
            if (c.meta["ops"][i]["op"] == "write" && !c.meta["ops"][i].contains("base")) return i;
        ADD_FAILURE() << "no new file in " << c.meta.dump();
        return 0;
    }

    fs::path save(const Unpacked& c, const std::string& name = "hostile.tar.zst") {
        c.save(work / name);
        return work / name;
    }
    fs::path save(const std::vector<RawEntry>& entries, const std::string& name = "hostile.tar.zst") {
        write_raw((work / name).string(), entries);
        return work / name;
    }

    // Applies `archive` and checks it is refused with one line holding every
    // part, and that nothing anywhere changed.
    void expect_refused(const fs::path& archive, const std::vector<std::string>& parts, bool from_stdin = false) {
        std::string manifest_before = manifest_of(target);
        auto tree_before = tree_state(base.path());
        auto history_before = cli_run("history --root " + q(target));

        auto r = from_stdin ? cli_run("apply - --root " + q(target) + " < " + q(archive))
                            : cli_run("apply " + q(archive) + " --root " + q(target));
        EXPECT_NE(r.exit_code, 0) << r.out;
        if (std::getenv("EXMSYNC_SHOW_REFUSALS")) std::printf("%s", r.err.c_str());  // to review the wording
        EXPECT_EQ(r.exit_code, 2) << r.err;
        EXPECT_EQ(count_lines(r.err), 1) << "not one line: " << r.err;
        for (const auto& part : parts) EXPECT_NE(r.err.find(part), std::string::npos) << "no '" << part << "' in: " << r.err;

        EXPECT_EQ(manifest_of(target), manifest_before) << "the target's content changed";
        EXPECT_EQ(tree_state(base.path()), tree_before) << "something beside the target changed";
        EXPECT_EQ(cli_run("history --root " + q(target)).out, history_before.out);
        EXPECT_EQ(read_file(tmp_sentinel) + std::to_string(fs::last_write_time(tmp_sentinel)), tmp_before);
        EXPECT_FALSE(fs::exists(fs::symlink_status(tmp_escape))) << tmp_escape;
        EXPECT_EQ(leftovers(target), "");
    }

    TempDir base, work;
    fs::path src = base / "src";
    fs::path target = base / "T";
    fs::path outside = base / "outside";
    fs::path tmp_sentinel = fs::temp_directory_path() / ("exmsync-cli-" + std::to_string(::getpid()) + "-sentinel");
    fs::path tmp_escape = fs::temp_directory_path() / ("exmsync-cli-" + std::to_string(::getpid()) + "-escaped");
    std::string tmp_before;
    fs::path good;
};

// The harness itself: the untouched archive applies, so every refusal below
// is the hostile change's doing.
TEST_F(HostileApply, GenuineArchiveApplies) {
    auto r = cli_run("apply " + q(good) + " --root " + q(target));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(root_of(manifest_of(target)), root_of(manifest_of(src)));
    EXPECT_EQ(leftovers(target), "");
    auto c = unpacked();
    // The genuine changeset has every kind of op the cases below tamper with.
    std::set<std::string> kinds;
    for (const auto& op : c.meta["ops"]) kinds.insert(op["op"].get<std::string>());
    EXPECT_EQ(kinds, (std::set<std::string>{"write", "delete", "rename"}));
    EXPECT_EQ(c.files.size(), 3u);
}

// ---- unsafe entry names -----------------------------------------------------

TEST_F(HostileApply, DotDotEntry) {
    auto c = unpacked();
    c.files[0].name = "files/../sentinel";  // T/../sentinel if extracted
    expect_refused(save(c), {"'files/../sentinel'", "unsafe path", "refusing the whole changeset"});
}

TEST_F(HostileApply, DotDotEntryFromStdin) {
    auto c = unpacked();
    c.files[0].name = "files/../../" + tmp_escape.filename().string();
    expect_refused(save(c), {"<stdin>", "unsafe path"}, true);
}

TEST_F(HostileApply, DotDotOpPath) {
    auto c = unpacked();
    auto i = c.first("write");
    std::string path = c.meta["ops"][i]["path"];
    c.entry(path).name = "files/../sentinel";
    c.meta["ops"][i]["path"] = "../sentinel";
    expect_refused(save(c), {"'../sentinel' is not allowed", "'..' path component"});
}

TEST_F(HostileApply, AbsoluteEntry) {
    auto c = unpacked();
    c.files[0].name = tmp_escape.string();
    expect_refused(save(c), {"'" + tmp_escape.string() + "'", "absolute"});
}

TEST_F(HostileApply, AbsoluteOpPath) {
    auto c = unpacked();
    auto i = c.first("write");
    std::string path = c.meta["ops"][i]["path"];
    c.entry(path).name = "files/" + tmp_escape.string();
    c.meta["ops"][i]["path"] = tmp_escape.string();
    expect_refused(save(c), {"'" + tmp_escape.string() + "' is not allowed", "absolute path"});
}

TEST_F(HostileApply, DriveLetterEntry) {
    auto c = unpacked();
    c.files[0].name = "C:/x";
    expect_refused(save(c), {"'C:/x'", "drive letter"});
}

TEST_F(HostileApply, BackslashTraversalEntry) {
    auto c = unpacked();
    c.files[0].name = "files/..\\..\\x";
    expect_refused(save(c), {"backslash"});
}

// Op paths that carry no archive entry (a rename's destination) are only
// checked by the operations' validation: what a portable changeset creates
// must mean the same on a Windows or SMB target, so a backslash or drive
// letter there is refused as in an entry name.
TEST_F(HostileApply, BackslashTraversalInRenameOp) {
    auto c = unpacked();
    auto i = c.first("rename");
    // Escaped as the metadata escapes a backslash: the path is ..\..\name.
    c.meta["ops"][i]["path"] = "..\\\\..\\\\" + tmp_escape.filename().string();
    c.sort_ops();
    expect_refused(save(c), {"which Windows reads as a folder separator"});
    EXPECT_FALSE(fs::exists(target / ("..\\..\\" + tmp_escape.filename().string())));
}

TEST_F(HostileApply, DriveLetterInRenameOp) {
    auto c = unpacked();
    auto i = c.first("rename");
    c.meta["ops"][i]["path"] = "C:";
    c.sort_ops();
    expect_refused(save(c), {"'C:' holds ':'", "alternate data stream or a drive"});
}

// ---- links --------------------------------------------------------------------

TEST_F(HostileApply, SymlinkEntryThenAFileThroughIt) {
    auto c = unpacked();
    auto i = new_write(c);
    std::string path = c.meta["ops"][i]["path"];
    c.meta["ops"][i]["path"] = "link/x.html";
    c.meta["ops"].push_back(nlohmann::json{{"op", "mkdir"}, {"path", "link"}});
    c.sort_ops();
    RawEntry link("files/link", "", AE_IFLNK);
    link.symlink = outside.string();
    c.entry(path).name = "files/link/x.html";
    c.files.insert(c.files.begin(), link);
    expect_refused(save(c), {"'files/link'", "a symlink"});
    EXPECT_FALSE(fs::exists(outside / "x.html"));
}

// Someone replaced the folder evil/ on the target by a link to a folder
// outside it; a changeset made from the manifest taken before (evil/ a
// folder) writes evil/x.html. The target no longer holds the changeset's base
// root, so it is refused before anything is staged.
TEST_F(HostileApply, SymlinkPlantedOnTheTargetPackedChangeset) {
    ASSERT_EQ(cli_run("manifest " + q(target) + " -o " + q(work / "m")).exit_code, 0);
    fs::create_directories(outside);
    fs::remove_all(target / "evil");
    fs::create_symlink(outside, target / "evil");
    write_file(src / "evil/x.html", "<html>through the link</html>");
    auto p = cli_run("pack " + q(src) + " --base " + q(work / "m") + " -o " + q(work / "evil.tar.zst"));
    ASSERT_EQ(p.exit_code, 0) << p.err;
    bool writes_through = false;
    for (const auto& e : read_entries(work / "evil.tar.zst")) writes_through |= e.name == "files/evil/x.html";
    ASSERT_TRUE(writes_through);
    expect_refused(work / "evil.tar.zst", {"holds root", "was made for root", "nothing was changed"});
    EXPECT_FALSE(fs::exists(outside / "x.html"));
    EXPECT_TRUE(fs::is_symlink(target / "evil"));
}

// The same with a hand-made changeset claiming the tampered target's own root
// as its base: the touch check finds evil/ is no folder, and nothing is
// ever opened through the link.
TEST_F(HostileApply, SymlinkPlantedOnTheTargetHandMadeChangeset) {
    fs::create_directories(outside);
    fs::remove_all(target / "evil");
    fs::create_symlink(outside, target / "evil");
    auto c = unpacked();
    c.meta["base_root"] = root_of(manifest_of(target));
    auto i = new_write(c);
    std::string path = c.meta["ops"][i]["path"];
    c.meta["ops"][i]["path"] = "evil/sentinel.html";  // would overwrite outside/sentinel.html
    c.entry(path).name = "files/evil/sentinel.html";
    c.sort_ops();
    expect_refused(save(c), {"folder 'evil' is missing", "nothing was changed"});
    EXPECT_EQ(read_file(outside / "sentinel.html"), "outside the root");
}

TEST_F(HostileApply, HardLinkEntry) {
    auto c = unpacked();
    RawEntry link(c.files[0].name, "", AE_IFREG);
    link.hardlink = tmp_sentinel.string();
    c.files[0] = link;
    expect_refused(save(c), {"'" + link.name + "'", "a hard link"});
}

// ---- entries that are not regular files -----------------------------------

class HostileKind : public HostileApply, public ::testing::WithParamInterface<std::pair<mode_t, const char*>> {};

TEST_P(HostileKind, IsRefused) {
    auto c = unpacked();
    c.files[0] = RawEntry(c.files[0].name, "", GetParam().first);
    expect_refused(save(c), {"'" + c.files[0].name + "'", GetParam().second, "not a regular file"});
}

INSTANTIATE_TEST_SUITE_P(Cli, HostileKind,
                         ::testing::Values(std::pair<mode_t, const char*>{AE_IFCHR, "a character device"},
                                           std::pair<mode_t, const char*>{AE_IFBLK, "a block device"},
                                           std::pair<mode_t, const char*>{AE_IFIFO, "a FIFO"}));

// ---- entries that do not match the metadata ---------------------------------

TEST_F(HostileApply, DuplicateEntry) {
    auto c = unpacked();
    c.files.insert(c.files.begin() + 1, c.files[0]);
    expect_refused(save(c), {"'" + c.files[0].name + "'", "is due"});
}

TEST_F(HostileApply, DuplicateOpPath) {
    auto c = unpacked();
    auto i = new_write(c);
    c.meta["ops"].insert(c.meta["ops"].begin() + static_cast<std::ptrdiff_t>(i), c.meta["ops"][i]);
    expect_refused(save(c), {"is touched twice"});
}

TEST_F(HostileApply, EntryNotInTheMetadata) {
    auto c = unpacked();
    c.files.emplace_back("files/extra.html", "<html>smuggled</html>");
    expect_refused(save(c), {"'files/extra.html'", "is not a file the changeset writes"});
    EXPECT_FALSE(fs::exists(target / "extra.html"));
}

TEST_F(HostileApply, SizeMismatch) {
    auto c = unpacked();
    std::size_t size = c.files[0].content.size();
    c.files[0].content += "!";
    expect_refused(save(c), {"'" + c.files[0].name + "'", "holds " + std::to_string(size + 1) + " bytes",
                             "changeset says " + std::to_string(size)});
}

TEST_F(HostileApply, HashMismatch) {
    auto c = unpacked();
    ASSERT_FALSE(c.files[0].content.empty());
    c.files[0].content[0] = static_cast<char>(c.files[0].content[0] ^ 0x20);
    expect_refused(save(c), {"'" + c.files[0].name.substr(6) + "'", "does not match its hash", "nothing was changed"});
}

TEST_F(HostileApply, MissingContent) {
    auto c = unpacked();
    c.files.pop_back();
    expect_refused(save(c), {"no content for"});
}

// ---- damaged or foreign files -------------------------------------------------

TEST_F(HostileApply, TruncatedArchive) {
    std::string whole = read_file(good);
    write_file(work / "cut.tar.zst", whole.substr(0, whole.size() * 2 / 3));
    expect_refused(work / "cut.tar.zst", {"cut.tar.zst", "truncated"});
}

// The metadata declares a small file; the entry's header claims 8 GiB,
// backed by a few MiB of zeros that would decompress forever.
TEST_F(HostileApply, ZstdBomb) {
    auto c = unpacked();
    std::string meta = c.header().dump(), ops = c.ops_text();
    std::string name = c.files[0].name;
    std::string out = zstd_frame(ustar_header("exmsync/changeset.json", meta.size()) + padded(meta) +
                                 ustar_header("exmsync/ops", ops.size()) + padded(ops) +
                                 ustar_header(name, 8ull << 30));
    std::string mib = zstd_frame(std::string(1 << 20, '\0'));
    for (int i = 0; i < 16; ++i) out += mib;
    write_file(work / "bomb.tar.zst", out);
    ASSERT_LT(fs::file_size(work / "bomb.tar.zst"), 1u << 20);
    expect_refused(work / "bomb.tar.zst", {"'" + name + "'", "holds 8589934592 bytes", "changeset says"});
}

// The same, in the metadata entry itself.
TEST_F(HostileApply, ZstdBombAsMetadata) {
    std::string out = zstd_frame(ustar_header("exmsync/changeset.json", 8ull << 30));
    std::string mib = zstd_frame(std::string(1 << 20, '\0'));
    for (int i = 0; i < 16; ++i) out += mib;
    write_file(work / "bomb.tar.zst", out);
    expect_refused(work / "bomb.tar.zst", {"exmsync/changeset.json", "is larger than"});
}

TEST_F(HostileApply, ZipNamedTarZst) {
    write_raw((work / "cs.tar.zst").string(), Unpacked::load(good).entries(), archive_write_set_format_zip,
                  archive_write_add_filter_none);
    ASSERT_EQ(read_file(work / "cs.tar.zst").substr(0, 2), "PK");
    expect_refused(work / "cs.tar.zst", {"cs.tar.zst", "is not an exmsync changeset"});
}

TEST_F(HostileApply, FakeRarNamedTarZst) {
    std::mt19937 rng(5);
    std::string junk(4096, '\0');
    for (char& ch : junk) ch = static_cast<char>(rng());
    write_file(work / "cs.tar.zst", std::string("Rar!\x1a\x07\x00", 7) + junk);
    expect_refused(work / "cs.tar.zst", {"cs.tar.zst", "is not an exmsync changeset"});
}

// ---- the right archive for the wrong target -----------------------------------

TEST_F(HostileApply, ChangesetForAnotherBase) {
    write_file(target / "a.html", "<html>a, edited on the server</html>");
    write_file(target / "new.html", "<html>made on the server</html>");
    expect_refused(good, {"holds root", "was made for root", "nothing was changed"});
    EXPECT_EQ(read_file(target / "a.html"), "<html>a, edited on the server</html>");
}

// A changeset whose base root is right but whose operations expect other
// content: every touched path is checked against the target's manifest.
TEST_F(HostileApply, OperationsThatDisagreeWithTheirBase) {
    auto c = unpacked();
    auto i = c.first("delete");
    c.meta["ops"][i]["base"]["hash"] = std::string(32, 'f');
    auto j = new_write(c);
    std::string path = c.meta["ops"][j]["path"];
    c.meta["ops"][j]["base"] = {{"type", "file"}, {"size", 1}, {"hash", std::string(32, 'e')}};
    expect_refused(save(c), {"is not in the state this changeset was made for", "has other content",
                             "'" + path + "' is missing", "nothing was changed"});
}

// ---- the state folder -------------------------------------------------------------

class HostileStatePath : public HostileApply, public ::testing::WithParamInterface<const char*> {};

TEST_P(HostileStatePath, WriteIsRefused) {
    auto c = unpacked();
    auto i = c.first("write");
    std::string path = c.meta["ops"][i]["path"];
    c.meta["ops"][i]["path"] = GetParam();
    c.meta["ops"][i].erase("base");
    c.entry(path).name = std::string("files/") + GetParam();
    expect_refused(save(c), {"is inside the state folder", GetParam()});
}

TEST_P(HostileStatePath, RenameIntoIsRefused) {
    auto c = unpacked();
    c.meta["ops"][c.first("rename")]["path"] = GetParam();
    expect_refused(save(c), {"is inside the state folder", GetParam()});
}

INSTANTIATE_TEST_SUITE_P(Cli, HostileStatePath,
                         ::testing::Values(".exmsync/journal", ".exmsync/current", ".exmsync/lock",
                                           ".exmsync/history/000009-0000000000000000.json", ".exmsync/statcache",
                                           ".exmsync", ".EXMSYNC/current", "Imported/.ExmSync"));

TEST_F(HostileApply, DeleteInTheStateFolderIsRefused) {
    auto c = unpacked();
    auto i = c.first("delete");
    c.meta["ops"][i]["path"] = ".exmsync/current";
    expect_refused(save(c), {"is inside the state folder", ".exmsync/current"});
    EXPECT_TRUE(fs::exists(target / ".exmsync/current"));
}

TEST_F(HostileApply, MkdirInTheStateFolderIsRefused) {
    auto c = unpacked();
    c.meta["ops"].insert(c.meta["ops"].begin(), nlohmann::json{{"op", "mkdir"}, {"path", ".exmsync/staging/x"}});
    expect_refused(save(c), {"is inside the state folder", ".exmsync/staging/x"});
}

}  // namespace
