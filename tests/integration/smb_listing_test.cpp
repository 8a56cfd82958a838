// Listing ahead over SMB (transport/smb_lister.hpp) on a real smbd: a walk
// that hints its folders, listed by the lister's own exmsync processes, must
// see exactly what one listing each on the transport's connection shows, the
// same errors, nothing from before a change made through the transport, and
// the same result when the workers cannot start or die halfway. Staged files
// written by the same workers (create_staged) must land whole, with their
// mtimes, and every one they could not write must fail flush_all().
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>

#include "integration/smb_server.hpp"
#include "integration/walk.hpp"
#include "support/polling.hpp"
#include "transport/smb.hpp"
#include "transport/smb_lister.hpp"

using namespace exmsync;
using namespace exmsync::testing;
using namespace exmsync::testing::smb;

namespace {

class SmbListing : public ::testing::Test {
protected:
    void SetUp() override {
        server = std::make_unique<SmbServer>(dir / "smbd");
        make_share_folder(*server, "sync", "t");
        target = server->share_dir("sync") / "t";
    }

    // With the lister of `program` (empty: none, one folder at a time).
    std::unique_ptr<transport::Transport> open(const std::string& program = EXMSYNC_BINARY,
                                               const std::string& share = "sync", bool encrypt = false) {
        transport::OpenOptions::Smb smb;
        smb.credentials = (*server)["SMB_CREDENTIALS"];
        smb.lister_program = program;
        smb.require_encryption = encrypt;
        return transport::open_smb(server->url(share, "t"), smb);
    }

    // Files and folders made on the share's disk, owned by smbd's account.
    void made() { run("chown -R exmsynctest: " + q(server->share_dir("sync")) + " " + q(server->share_dir("secure"))); }

    // The SMB sessions smbd serves for the test account now.
    std::size_t sessions() const {
        std::istringstream text(server->sessions());
        std::size_t n = 0;
        for (std::string line; std::getline(text, line);) n += line.find("exmsynctest") != std::string::npos;
        return n;
    }

    TempDir dir{scratch_parent()};
    std::unique_ptr<SmbServer> server;
    fs::path target;
};

// A tree with more folders than are fetched at once, a folder of non-ASCII
// names that takes more than one directory query, names with spaces and
// shell characters, empty folders and a subtree the walk leaves out.
void grow(const fs::path& target) {
    for (int i = 0; i < 120; ++i) {
        fs::path folder = target / ("f" + std::to_string(i)) / "inner";
        fs::create_directories(folder);
        write_file(folder / ("file " + std::to_string(i) + ".html"), std::string(static_cast<std::size_t>(i), 'x'));
    }
    for (int i = 0; i < 1500; ++i) write_file(target / "wide" / ("n\xc3\xa4me-" + std::to_string(i) + ".html"), "y");
    fs::create_directories(target / "empty" / "deeper");
    for (int i = 0; i < 40; ++i) write_file(target / "f7" / "skipped" / std::to_string(i) / "deep" / "x", "s");
    fs::create_directories(target / "dollar $(x); 'q'");
}

TEST_F(SmbListing, ListedAheadMatchesListedOneByOne) {
    grow(target);
    made();
    std::string one_by_one = walked(*open(""), false);
    auto t = open();
    std::string ahead = walked(*t, true);
    // The main connection and the lister's three (and maybe the last
    // transport's, which smbd has not yet let go): the workers listed.
    EXPECT_GE(sessions(), 1 + transport::SmbLister::kWorkers);
    EXPECT_EQ(first_difference(ahead, one_by_one), "");
    EXPECT_NE(one_by_one.find("wide/n\xc3\xa4me-1499.html 0 1 "), std::string::npos);
    EXPECT_NE(one_by_one.find("f119/inner/file 119.html 0 119 "), std::string::npos);
    EXPECT_NE(one_by_one.find("f7/skipped 1 "), std::string::npos);
    EXPECT_EQ(one_by_one.find("f7/skipped/"), std::string::npos);
    EXPECT_EQ(std::count(one_by_one.begin(), one_by_one.end(), '\n'), 120 * 3 + 1501 + 2 + 1 + 1);
}

TEST_F(SmbListing, EncryptedShareIsListedAheadEncrypted) {
    fs::path secure = server->share_dir("secure") / "t";
    for (int i = 0; i < 40; ++i) write_file(secure / ("d" + std::to_string(i)) / "sub" / "f", "f");
    made();
    std::string one_by_one = walked(*open("", "secure", true), false);
    auto t = open(EXMSYNC_BINARY, "secure", true);
    EXPECT_EQ(first_difference(walked(*t, true), one_by_one), "");
    EXPECT_GE(sessions(), 1 + transport::SmbLister::kWorkers);
    EXPECT_EQ(std::count(one_by_one.begin(), one_by_one.end(), '\n'), 40 * 3);
}

// Workers that cannot start, or that end before they log on: every folder
// is listed on the transport's own connection, and nothing is missed.
TEST_F(SmbListing, ListerThatCannotStartLeavesTheWalkWhole) {
    grow(target);
    made();
    std::string one_by_one = walked(*open(""), false);
    for (const std::string program : {"/nonexistent/exmsync", "/bin/false", "/bin/cat"}) {
        auto t = open(program);
        EXPECT_EQ(first_difference(walked(*t, true), one_by_one), "") << program;
    }
}

TEST_F(SmbListing, WorkersKilledMidWalkLeaveTheWalkWhole) {
    grow(target);
    made();
    std::string one_by_one = walked(*open(""), false);
    auto t = open();
    t->list("");
    std::vector<std::string> folders;
    for (const auto& e : t->list(""))
        if (e.stat.kind == transport::Kind::Directory) folders.push_back(e.name);
    t->list_ahead(folders);
    t->list(folders[0]);
    // The workers log on as they start: the first folder can come back
    // before the last of them has.
    ASSERT_TRUE(wait_for([&] { return sessions() >= 1 + transport::SmbLister::kWorkers; })) << sessions();
    run("pkill -KILL -P " + std::to_string(getpid()) + " -f smb-lister");
    EXPECT_EQ(first_difference(walked(*t, true), one_by_one), "");
}

TEST_F(SmbListing, MissingFolderListedAheadFailsAsListedAlone) {
    std::vector<std::string> folders;
    for (int i = 10; i < 40; ++i) {
        folders.push_back("d" + std::to_string(i));
        write_file(target / folders.back() / "a", "a");
    }
    made();
    std::string alone;
    try {
        open("")->list("d10/gone");
    } catch (const transport::NotFound& e) {
        alone = e.what();
    }
    ASSERT_FALSE(alone.empty());
    auto t = open();
    t->list("");
    t->list_ahead(folders);
    t->list_ahead({"d10/gone"});
    ASSERT_EQ(t->list("d10").size(), 1u);
    try {
        t->list("d10/gone");
        ADD_FAILURE() << "a missing folder was listed";
    } catch (const transport::NotFound& e) {
        EXPECT_EQ(e.what(), alone);
    }
    ASSERT_EQ(t->list("d11").size(), 1u);
}

TEST_F(SmbListing, FoldersListedOutOfWalkOrderAreStillRight) {
    std::vector<std::string> folders;
    for (int i = 10; i < 40; ++i) {
        folders.push_back("d" + std::to_string(i));
        write_file(target / folders.back() / (folders.back() + "-1"), "x");
    }
    made();
    auto t = open();
    t->list("");
    t->list_ahead(folders);
    // The last first: what the walk passed is dropped, and listed anew when asked for.
    std::vector<std::string> order = {folders.back()};
    order.insert(order.end(), folders.begin(), folders.end());
    for (const auto& name : order) {
        auto listed = t->list(name);
        ASSERT_EQ(listed.size(), 1u) << name;
        EXPECT_EQ(listed[0].name, name + "-1");
    }
}

TEST_F(SmbListing, ChangeThroughTheTransportDropsWhatWasListedAhead) {
    std::vector<std::string> folders;
    for (int i = 10; i < 60; ++i) {
        folders.push_back("d" + std::to_string(i));
        write_file(target / folders.back() / "old", "o");
    }
    made();
    auto t = open();
    t->list("");
    t->list_ahead(folders);
    // Waiting for the first folder lets the workers list others meanwhile:
    // their entries are then here before the change below.
    ASSERT_EQ(t->list(folders[0]).size(), 1u);
    for (std::size_t i = 1; i < folders.size(); ++i) {
        auto w = t->create(folders[i] + "/new");
        w->write("n", 1);
        w->commit(transport::Flush::Deferred);
    }
    t->remove(folders[1] + "/old");
    for (std::size_t i = 1; i < folders.size(); ++i) {
        auto listed = t->list(folders[i]);
        std::string names;
        for (const auto& e : listed) names += e.name + " ";
        EXPECT_EQ(names, i == 1 ? "new " : "new old ") << folders[i];
    }
}

// A file being written while its folder is listed ahead: once committed,
// the listing shows what was written, not the empty file the workers saw.
TEST_F(SmbListing, FileCommittedAfterItsFolderWasListedAheadShowsItsSize) {
    std::vector<std::string> folders;
    for (int i = 10; i < 40; ++i) {
        folders.push_back("d" + std::to_string(i));
        write_file(target / folders.back() / "old", "o");
    }
    made();
    auto t = open();
    t->list("");
    auto w = t->create("d11/new");
    t->list_ahead(folders);
    ASSERT_EQ(t->list("d10").size(), 1u);  // d11 is listed meanwhile, "new" in it empty
    w->write("abc", 3);
    w->commit(transport::Flush::Deferred);
    std::string sizes;
    for (const auto& e : t->list("d11")) sizes += e.name + "=" + std::to_string(e.stat.size) + " ";
    EXPECT_EQ(sizes, "new=3 old=1 ");
}

TEST_F(SmbListing, ServerGoneWhileListingAheadIsAnErrorNamingTheTarget) {
    grow(target);
    made();
    auto t = open();
    std::vector<std::string> folders;
    for (const auto& e : t->list(""))
        if (e.stat.kind == transport::Kind::Directory) folders.push_back(e.name);
    t->list_ahead(folders);
    t->list(folders[0]);
    server->kill_all();
    try {
        for (const auto& f : folders) t->list(f);
        ADD_FAILURE() << "every folder was listed from a server that is gone";
    } catch (const transport::Error& e) {
        EXPECT_NE(std::string(e.what()).find(server->url("sync", "t")), std::string::npos) << e.what();
    }
}

// Staged files, sized around the chunk a worker is sent at once, written
// through create_staged: the workers write them (their sessions are there;
// nothing else of this test starts them), whole and dated.
TEST_F(SmbListing, StagedFilesAreWrittenWholeByTheWorkers) {
    made();
    auto t = open();
    t->mkdir("stage");
    const std::int64_t mtime = 1600000000LL * 1'000'000'000 + 123'456'000;
    auto content = [](int i) {
        std::size_t size = i == 7 ? 0 : i == 8 ? 256 * 1024 : i == 9 ? 700 * 1024 + 3 : static_cast<std::size_t>(i) * 37;
        std::string text(size, 'a');
        for (std::size_t j = 0; j < size; ++j) text[j] = static_cast<char>('a' + (j * 7 + static_cast<std::size_t>(i)) % 26);
        return text;
    };
    for (int i = 0; i < 120; ++i) {
        auto w = t->create_staged("stage/f" + std::to_string(i));
        w->set_mtime_on_commit(mtime + i * 1'000'000'000LL);
        std::string text = content(i);
        for (std::size_t at = 0; at < text.size(); at += 65536)
            w->write(text.data() + at, std::min<std::size_t>(65536, text.size() - at));
        w->commit(transport::Flush::Deferred);
    }
    t->flush_all();
    // Every worker was given files, so every one logged on; a check before
    // flush_all() could run ahead of the last logon.
    EXPECT_TRUE(wait_for([&] { return sessions() >= 1 + transport::SmbLister::kWorkers; })) << sessions();
    EXPECT_EQ(t->list("stage").size(), 120u);
    for (int i = 0; i < 120; ++i) {
        fs::path file = target / "stage" / ("f" + std::to_string(i));
        ASSERT_EQ(read_file(file), content(i)) << file;
        auto st = t->stat("stage/f" + std::to_string(i));
        ASSERT_TRUE(st);
        EXPECT_EQ(st->mtime_ns / 1000, (mtime + i * 1'000'000'000LL) / 1000) << file;
    }
}

// One staged file a worker cannot create (something is in its place) fails
// flush_all() naming it; the others are written, and the failure is told once.
TEST_F(SmbListing, StagedFileAWorkerCannotWriteFailsTheFlushNamingIt) {
    write_file(target / "stage" / "f30", "in the way");
    made();
    auto t = open();
    for (int i = 0; i < 60; ++i) {
        auto w = t->create_staged("stage/f" + std::to_string(i));
        w->write("new", 3);
        w->commit(transport::Flush::Deferred);
    }
    try {
        t->flush_all();
        ADD_FAILURE() << "a staged file that could not be created was taken for written";
    } catch (const transport::Error& e) {
        EXPECT_NE(std::string(e.what()).find("'stage/f30'"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find(server->url("sync", "t")), std::string::npos) << e.what();
    }
    EXPECT_EQ(read_file(target / "stage" / "f30"), "in the way");
    EXPECT_EQ(read_file(target / "stage" / "f59"), "new");
    EXPECT_NO_THROW(t->flush_all());
}

// Workers killed while a staged file is on its way: the file cannot have
// been answered for, so flush_all() fails naming it and the lost connection.
TEST_F(SmbListing, WorkersKilledWhileStagingFailTheFlush) {
    made();
    auto t = open();
    t->mkdir("stage");
    for (int i = 0; i < 20; ++i) {
        auto w = t->create_staged("stage/small" + std::to_string(i));
        w->commit(transport::Flush::Deferred);
    }
    ASSERT_TRUE(wait_for([&] { return sessions() >= 1 + transport::SmbLister::kWorkers; })) << sessions();
    auto big = t->create_staged("stage/big");
    const std::string chunk(1 << 20, 'b');
    big->write(chunk.data(), chunk.size());
    run("pkill -KILL -P " + std::to_string(getpid()) + " -f smb-lister");
    for (int i = 0; i < 8; ++i) big->write(chunk.data(), chunk.size());
    big->commit(transport::Flush::Deferred);
    try {
        t->flush_all();
        ADD_FAILURE() << "a staged file whose worker was killed was taken for written";
    } catch (const transport::Error& e) {
        EXPECT_NE(std::string(e.what()).find("'stage/big'"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("was lost"), std::string::npos) << e.what();
    }
    EXPECT_NO_THROW(t->flush_all());
}

}  // namespace
