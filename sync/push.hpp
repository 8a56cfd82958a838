// push SOURCE TARGET...: bring every target in line with the source folder.
// Each target is scanned (with its stat cache), diffed against the source,
// and sent the changeset that makes it equal, applied all-or-nothing.
#pragma once

#include <cstdint>
#include <boost/filesystem/path.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "manifest/scanner.hpp"
#include "sync/apply.hpp"
#include "sync/changeset.hpp"
#include "sync/plan.hpp"
#include "sync/snapshot.hpp"
#include "transport/transport.hpp"

namespace exmsync::sync {

struct PushOptions {
    SnapshotOptions scan;
    PlanOptions plan;
    std::uint64_t max_delete = 1000;  // refuse a target that would lose more files than this
    bool dry_run = false;
    // Targets pushed at once (each has its own transport); 0: one per core.
    unsigned parallel = 0;
    StateLayout state;
};

struct TargetResult {
    std::string target;
    bool ok = false;
    std::string error;                // why it failed
    bool already_in_sync = false;
    ChangeCounts changes;
    Changeset changeset;              // what was (or, in a dry run, would be) applied
    std::vector<std::string> drift;   // paths edited on the target since the last push
    std::string apply_id;
};

struct PushReport {
    manifest::ScanResult source;
    std::vector<TargetResult> targets;
    bool all_ok() const;
};

// The source of a push, scanned once for all targets.
struct PushSource {
    boost::filesystem::path root;
    std::unique_ptr<TempFile> manifest;  // symlinks left out: they are never pushed
    manifest::ScanResult scan;

    // Throws Error when `source` is not a folder or cannot be scanned.
    static std::unique_ptr<PushSource> open(const std::string& source, const PushOptions& options);
};

// Brings one opened target in line with the source: recover, scan, diff,
// plan, guard, apply. Throws on failure; `name` is how messages call it.
// Several may run at once on one PushSource, each with its own target.
TargetResult push_to(transport::Transport& target, const std::string& name, const PushSource& source,
                     const PushOptions& options);

// Called as each target finishes, so the CLI can report progress; never
// from two threads at once.
// `index` is the target's position in the list given to push().
using TargetDone = std::function<void(std::size_t index, const TargetResult&)>;

// Throws Error when the source cannot be scanned; a failing target is
// reported in its TargetResult and the others still run.
PushReport push(const std::string& source, const std::vector<std::string>& targets, const PushOptions& options,
                const TargetDone& on_done = {});

}  // namespace exmsync::sync
