// The check the remote backends without file identity (SFTP, SMB) share: the
// files a push writes go into the target's stat cache with the size and the
// mtime it gave them, so the next push reads none of them back to hash them
// (but the files it renamed, which hold what was there), and a no-op right
// after a push is checked early, without the lock. An edit made after the
// push is still found.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/cli_support.hpp"

namespace exmsync::testing {

// `exmsync VERB SOURCE TARGET EXTRA` for push and diff; `on_disk` is the
// target's folder as the server keeps it.
inline void expect_written_files_not_read_back(
    const fs::path& src, const fs::path& on_disk,
    const std::function<CommandResult(const std::string& verb, const std::string& extra)>& exmsync) {
    auto make_old = [&] {  // out of the window in which a stat cache trusts nothing
        return run("find " + cli::q(src) + " -type f -exec touch -d 2024-01-01T12:00:00.123456789 {} +").exit_code;
    };
    write_file(src / "own.html", "pushed");
    ASSERT_EQ(make_old(), 0);
    ASSERT_EQ(exmsync("push", "").exit_code, 0);
    auto quiet = exmsync("push", "-v");
    ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
    EXPECT_NE(quiet.err.find("in sync, checked early"), std::string::npos) << quiet.err;

    TreeMaker(7).mutate(src);
    ASSERT_EQ(make_old(), 0);
    auto changed = exmsync("push", "--json");
    ASSERT_EQ(changed.exit_code, 0) << changed.err;
    auto counts = nlohmann::json::parse(changed.out)["targets"][0]["counts"];
    int renamed = counts["renames"].get<int>();
    ASSERT_GT(renamed, 0);
    quiet = exmsync("push", "-v");
    ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
    EXPECT_NE(quiet.err.find("files (" + std::to_string(renamed) + " hashed)"), std::string::npos) << quiet.err;
    quiet = exmsync("push", "-v");
    EXPECT_NE(quiet.err.find("in sync, checked early"), std::string::npos) << quiet.err;
    EXPECT_EQ(cli::rsync_differences(src, on_disk), "");

    write_file(on_disk / "own.html", "edited on the server");
    auto diff = exmsync("diff", "");
    EXPECT_EQ(diff.exit_code, 1) << diff.out << diff.err;
    EXPECT_NE(diff.out.find("own.html"), std::string::npos) << diff.out;
    ASSERT_EQ(exmsync("push", "").exit_code, 0);
    EXPECT_EQ(cli::rsync_differences(src, on_disk), "");
}

}  // namespace exmsync::testing
