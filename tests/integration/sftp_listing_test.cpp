// Listing ahead over SFTP (transport/sftp_lister.hpp) on a real sshd: a walk
// that hints its folders must see exactly what one listing each shows, the
// same errors, nothing from before a change made through the transport, and
// an error, not a hang, when the server goes away.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>

#include "integration/ssh_server.hpp"
#include "integration/walk.hpp"
#include "transport/ssh.hpp"

using namespace exmsync;
using namespace exmsync::testing;
using namespace exmsync::testing::ssh;

namespace {

std::unique_ptr<transport::Transport> open_on(const SshServer& server, const fs::path& target) {
    transport::SshOptions ssh;
    ssh.known_hosts = server["SSH_KNOWN_HOSTS"];
    ssh.identities = {server["SSH_CLIENT_KEY"]};
    return transport::open_sftp(server.url(target), ssh);
}

class SftpListing : public ::testing::Test {
protected:
    void SetUp() override {
        server = std::make_unique<SshServer>(dir / "sshd");
        fs::create_directories(target);
    }

    std::unique_ptr<transport::Transport> open() { return open_on(*server, target); }

    std::string walked(bool ahead) {
        auto t = open();
        return exmsync::testing::walked(*t, ahead);
    }

    TempDir dir{scratch_parent()};
    std::unique_ptr<SshServer> server;
    fs::path target = dir / "t";
};

TEST_F(SftpListing, ListedAheadMatchesListedOneByOne) {
    // More folders than are fetched at once, a folder that takes several
    // READDIR replies, names that need quoting, a symlink and empty folders.
    for (int i = 0; i < 150; ++i) {
        fs::path folder = target / ("f" + std::to_string(i)) / "inner";
        fs::create_directories(folder);
        write_file(folder / ("file " + std::to_string(i) + ".html"), std::string(static_cast<std::size_t>(i), 'x'));
    }
    for (int i = 0; i < 350; ++i) write_file(target / "wide" / ("n\xc3\xa4me-" + std::to_string(i)), "y");
    fs::create_directories(target / "empty" / "deeper");
    for (int i = 0; i < 40; ++i) write_file(target / "f7" / "skipped" / std::to_string(i) / "deep" / "x", "s");
    fs::create_directories(target / "dollar $(x); 'q'");
    ASSERT_EQ(symlink("wide", (target / "link").c_str()), 0);

    std::string one_by_one = walked(false), ahead = walked(true);
    EXPECT_EQ(ahead, one_by_one);
    EXPECT_NE(one_by_one.find("wide/n\xc3\xa4me-349 "), std::string::npos);
    EXPECT_NE(one_by_one.find("f149/inner/file 149.html 0 149 "), std::string::npos);
    EXPECT_NE(one_by_one.find("link 2 "), std::string::npos);
    EXPECT_NE(one_by_one.find("f7/skipped 1 "), std::string::npos);
    EXPECT_EQ(one_by_one.find("f7/skipped/"), std::string::npos);
    EXPECT_EQ(std::count(one_by_one.begin(), one_by_one.end(), '\n'), 150 * 3 + 351 + 3 + 1 + 1);
}

// A server that allows one channel per connection refuses the lister's: the
// walk is listed the slow way, and nothing is missed.
TEST(SftpListingRefused, ServerWithOneChannelIsListedOneFolderAtATime) {
    TempDir dir{scratch_parent()};
    fs::create_directories(dir / "sshd");
    write_file(dir / "sshd" / "sshd_config.local", "MaxSessions 1\n");
    SshServer server(dir / "sshd");
    fs::path target = dir / "t";
    for (int i = 0; i < 20; ++i) write_file(target / ("d" + std::to_string(i)) / "sub" / "f", "f");
    auto t = open_on(server, target);
    std::vector<std::string> folders;
    for (const auto& c : t->list("")) folders.push_back(c.name);
    ASSERT_EQ(folders.size(), 20u);
    t->list_ahead(folders);
    for (const auto& f : folders) {
        auto listed = t->list(f);
        ASSERT_EQ(listed.size(), 1u) << f;
        EXPECT_EQ(t->list(f + "/sub").size(), 1u) << f;
    }
    // sshd keeps the first value of a keyword: the limit must come before the script's own.
    std::string config = read_file(dir / "sshd" / "sshd_config");
    EXPECT_LT(config.find("MaxSessions 1\n"), config.find("MaxSessions 64"));
}

TEST_F(SftpListing, MissingFolderListedAheadFailsAsListedAlone) {
    fs::create_directories(target / "here");
    write_file(target / "here" / "a", "a");
    write_file(target / "file", "f");
    std::string alone, as_file;
    {
        auto t = open();
        try {
            t->list("gone");
        } catch (const transport::NotFound& e) {
            alone = e.what();
        }
    }
    auto t = open();
    t->list_ahead({"gone", "here"});
    try {
        t->list("gone");
        ADD_FAILURE() << "a missing folder was listed";
    } catch (const transport::NotFound& e) {
        EXPECT_EQ(e.what(), alone);
    }
    ASSERT_EQ(t->list("here").size(), 1u);
    EXPECT_EQ(t->list("here")[0].name, "a");
}

TEST_F(SftpListing, FoldersListedOutOfWalkOrderAreStillRight) {
    for (const char* name : {"a", "b", "c"}) write_file(target / name / (std::string(name) + "1"), name);
    auto t = open();
    t->list("");
    t->list_ahead({"a", "b", "c"});
    // "c" first: what the walk passed ("a", "b") is dropped, and listed anew when asked for.
    for (const char* name : {"c", "a", "b", "c"}) {
        auto listed = t->list(name);
        ASSERT_EQ(listed.size(), 1u) << name;
        EXPECT_EQ(listed[0].name, std::string(name) + "1");
    }
}

TEST_F(SftpListing, ChangeThroughTheTransportDropsWhatWasListedAhead) {
    std::vector<std::string> folders;
    for (int i = 10; i < 60; ++i) {
        folders.push_back("d" + std::to_string(i));
        write_file(target / folders.back() / "old", "o");
    }
    auto t = open();
    t->list("");
    t->list_ahead(folders);
    // Waiting for the first folder lets the server answer for the others:
    // their entries are then here before the change below.
    ASSERT_EQ(t->list(folders[0]).size(), 1u);
    for (std::size_t i = 1; i < folders.size(); ++i) {
        auto w = t->create(folders[i] + "/new");
        w->write("n", 1);
        w->commit(transport::Flush::Deferred);
    }
    t->remove(folders[1] + "/old");
    EXPECT_THROW(t->list(folders[1] + "/old"), transport::Error);
    for (std::size_t i = 1; i < folders.size(); ++i) {
        auto listed = t->list(folders[i]);
        std::string names;
        for (const auto& e : listed) names += e.name + " ";
        EXPECT_EQ(names, i == 1 ? "new " : "new old ") << folders[i];
    }
}

TEST_F(SftpListing, ServerGoneWhileListingAheadIsAnErrorNamingTheTarget) {
    for (int i = 0; i < 100; ++i) fs::create_directories(target / ("d" + std::to_string(i)));
    auto t = open();
    t->list("");  // the folders are then known not to be links: no lstat of each first
    std::vector<std::string> folders;
    for (int i = 0; i < 100; ++i) folders.push_back("d" + std::to_string(i));
    std::sort(folders.begin(), folders.end());
    t->list_ahead(folders);
    server->kill_all();
    try {
        for (const auto& f : folders) t->list(f);
        ADD_FAILURE() << "every folder was listed from a server that is gone";
    } catch (const transport::Error& e) {
        EXPECT_NE(std::string(e.what()).find(server->url(target)), std::string::npos) << e.what();
    }
}

}  // namespace
