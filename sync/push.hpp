// push SOURCE TARGET...: bring every target in line with the source folder.
// The source is scanned once; each target is locked, recovered, scanned (its
// stat cache in its state folder), compared with what the last push left
// (drift), planned and applied all-or-nothing, in parallel with the others.
//
// Before any target is touched the push refuses: a target that is the
// source, holds it or lies inside it, or is listed twice (compared by the
// identity of the folders, not by their names); and source names that a
// Windows or SMB target would read differently (unless allowed).
#pragma once

#include <boost/filesystem/path.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "manifest/scanner.hpp"
#include "sync/apply.hpp"
#include "sync/plan.hpp"
#include "sync/snapshot.hpp"
#include "sync/target.hpp"
#include "transport/transport.hpp"

namespace exmsync::sync {

// The default number of targets served at once when any is remote.
inline constexpr unsigned kRemoteWorkers = 8;

// What --parallel 0 means for these targets: one per core, and at least
// kRemoteWorkers when any is remote (ssh://, smb://).
unsigned default_parallel(const std::vector<std::string>& targets);

struct PushOptions {
    FilterSpec filter;
    bool use_cache = true;                            // the source's stat cache
    std::optional<boost::filesystem::path> cache_file;  // the source's, when not in the user's cache folder
    PlanOptions plan;
    std::uint64_t max_delete = 1000;  // refuse a target that would lose more files than this
    bool dry_run = false;             // plan and report; change nothing, not even a lock
    // Targets pushed at once (each has its own transport); 0: default_parallel().
    unsigned parallel = 0;
    TargetOptions target;  // how targets are reached (SSH host keys, identities, agent or SFTP)
    // Tests: runs just before each target's commit begins.
    std::function<void()> before_commit;
};

struct TargetResult {
    std::string target;
    bool ok = false;
    std::string error;       // why it failed
    std::string error_code;  // error_code() of the failure
    bool already_in_sync = false;
    ChangeCounts changes;
    std::shared_ptr<Plan> plan;          // what was (or, in a dry run, would be) applied
    std::vector<DriftItem> drift;        // the first kDriftShown paths edited by hand
    std::uint64_t drift_count = 0;
    std::vector<std::string> notes;      // what recovery did first
    std::string apply_id;
    std::string mode;   // how it was reached: local, sftp or agent
    Traffic traffic;    // bytes on the wire (agent mode)
};

struct PushReport {
    std::string source;
    manifest::ScanResult source_scan;
    std::vector<TargetResult> targets;
    bool all_ok() const;
};

class SharedWork;

// The source of a push, scanned once for all targets.
struct PushSource {
    PushSource();
    ~PushSource();

    boost::filesystem::path root;
    std::unique_ptr<TempFile> manifest;  // symlinks left out: they are never pushed
    manifest::ScanResult scan;
    // Set for a push to several targets: targets that hold the same files
    // share one plan and, for the agent, one archive (shared_work.hpp).
    std::unique_ptr<SharedWork> shared;

    // Throws Error when `source` is not a folder, cannot be scanned, or holds
    // names a Windows target would refuse or merge (unless allowed).
    static std::unique_ptr<PushSource> open(const std::string& source, const PushOptions& options);
};

// Brings one target in line with the source. Throws on failure; `name` is
// how messages call it. Several may run at once on one PushSource. `early`:
// what peek_if_settled() said while the source was being scanned, asked
// with the source's last root (nullptr: not asked).
TargetResult push_to(Target& target, const std::string& name, const PushSource& source, const PushOptions& options,
                     const std::optional<TargetScan>* early = nullptr);
// The same through a transport (a direct target; the tests' faulty ones).
TargetResult push_to(transport::Transport& target, const std::string& name, const PushSource& source,
                     const PushOptions& options);

// Called as each target finishes, never from two threads at once. `index`
// is the target's position in the list given to push().
using TargetDone = std::function<void(std::size_t index, const TargetResult&)>;

// Throws Error when the source cannot be scanned or the targets overlap it
// or each other; a failing target is reported in its TargetResult and the
// others still run.
PushReport push(const std::string& source, const std::vector<std::string>& targets, const PushOptions& options,
                const TargetDone& on_done = {});

}  // namespace exmsync::sync
