// The CLI is a thin layer: each command parses its options, calls sync/ and
// prints the result, for people on stdout or as one JSON object (--json).
// Warnings, failures and logs go to stderr. Errors are mapped to exit codes
// and error objects in one place, main.cpp.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sync/changeset.hpp"
#include "sync/snapshot.hpp"
#include "sync/target.hpp"
#include "transport/transport.hpp"

namespace exmsync::cli {

// Exit codes shared by every command.
inline constexpr int kOk = 0;
inline constexpr int kDifferent = 1;  // or: some target failed
inline constexpr int kError = 2;

// How one run reports: set from the global flags and the command's --json.
struct Output {
    bool json = false;
    bool quiet = false;  // -q: results and warnings that matter, no notes
    std::string command;
    // stdout carries data (pack -o -): results and the JSON object, failures
    // included, go to stderr so that nothing is appended to the archive.
    bool stdout_is_data = false;
    std::ostream& results() const { return stdout_is_data ? std::cerr : std::cout; }
};

// The warnings of one run: on stderr as they come, and kept (the first
// kMaxKept) for the JSON object's "warnings".
class Warnings {
public:
    static constexpr std::size_t kMaxKept = 200;
    void add(const std::string& code, const std::string& message, const std::string& path = {});
    nlohmann::json json() const;

private:
    std::vector<nlohmann::json> kept_;
    std::uint64_t dropped_ = 0;
};

// Notes: what was done besides the result (a recovery first, a folder kept).
// On stderr unless -q; in JSON, under "notes".
void note(const Output& out, const std::string& text);

// Options every command that scans a folder takes.
struct ScanFlags {
    std::vector<std::string> include;
    std::vector<std::string> exclude;
    bool no_default_excludes = false;
    bool no_cache = false;
    std::string cache_file;

    void add_to(CLI::App& command);
    sync::FilterSpec filter() const;
    sync::SnapshotOptions snapshot_options() const;
};

// How targets are reached over SSH: --known-hosts, --host-key, --identity,
// --accept-new-host-key, --ssh-timeout, --no-agent, --remote-exmsync, --rsh.
struct SshFlags {
    sync::TargetOptions target;
    bool no_agent = false;
    std::string remote_exmsync;
    std::string verify = "stat";
    void add_to(CLI::App& command);
    // --verify, for the commands that scan a target (push, diff, apply).
    void add_verify_to(CLI::App& command);
    // The options with the flags' choices applied.
    sync::TargetOptions options() const;
};

// The head every JSON result starts with: ok, version, command.
nlohmann::json json_head(const Output& out, bool ok);

// A location the user typed, normalized as a push target's is: a local
// folder or file path, or a URL of a backend this build has.
std::string location(const std::string& typed);

using Runner = std::function<int(Output&)>;

struct Command {
    const char* name;
    const char* summary;  // the first line of its help
    Runner (*add)(CLI::App& command);
};

Runner add_manifest_command(CLI::App& command);
Runner add_diff_command(CLI::App& command);
Runner add_push_command(CLI::App& command);
Runner add_pack_command(CLI::App& command);
Runner add_apply_command(CLI::App& command);
Runner add_recover_command(CLI::App& command);
Runner add_history_command(CLI::App& command);
Runner add_rollback_command(CLI::App& command);
Runner add_agent_command(CLI::App& command);

}  // namespace exmsync::cli
