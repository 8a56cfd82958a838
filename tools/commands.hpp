// The CLI is a thin layer: each command parses its options and calls sync/.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "sync/snapshot.hpp"

namespace exmsync::cli {

// Exit codes shared by every command.
inline constexpr int kOk = 0;
inline constexpr int kDifferent = 1;  // or: some target failed
inline constexpr int kError = 2;

struct GlobalOptions {
    int verbose = 0;
    bool quiet = false;
};

// Options every command that scans a folder takes.
struct ScanFlags {
    std::vector<std::string> include;
    std::vector<std::string> exclude;
    bool no_default_excludes = false;
    bool no_cache = false;
    std::string cache_file;

    void add_to(CLI::App& command);
    sync::SnapshotOptions snapshot_options() const;
};

// A command registers itself and returns the function that runs it.
using Runner = std::function<int()>;
Runner add_manifest_command(CLI::App& app);
Runner add_diff_command(CLI::App& app);
Runner add_push_command(CLI::App& app);
Runner add_pack_command(CLI::App& app);
Runner add_apply_command(CLI::App& app);
Runner add_recover_command(CLI::App& app);
Runner add_history_command(CLI::App& app);
Runner add_rollback_command(CLI::App& app);

void print_warnings(const std::vector<std::string>& warnings, const std::string& where);

}  // namespace exmsync::cli
