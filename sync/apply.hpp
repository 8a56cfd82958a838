// Applying a changeset to a target, all or nothing. The protocol lives in
// apply.cpp and is written once against the Transport interface:
//
//   1. take the target's lock;
//   2. finish or undo an interrupted apply (recover);
//   3. check the base: every path the changeset touches is as it expects;
//   4. stage the new files in the state folder (same volume), verify their
//      hashes, flush them;
//   5. write and flush the journal;
//   6. commit: move replaced and deleted files to the backup, staged files
//      into place (configuration files last);
//   7. record the new manifest and history, drop the journal, unlock.
//
// A crash or a cut connection at any step leaves the target, after the next
// apply or recover, either as it was or as the changeset makes it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sync/changeset.hpp"
#include "sync/content.hpp"
#include "sync/error.hpp"
#include "sync/plan.hpp"
#include "sync/state.hpp"
#include "transport/transport.hpp"

namespace exmsync::sync {

// The target does not hold what the changeset expects; nothing was changed.
class DriftError : public Error {
public:
    using Error::Error;
};

struct ApplyOptions {
    StateLayout state;
    std::string kind = "apply";  // recorded in history: push, apply, rollback
    unsigned keep_backups = 5;   // applies whose backups are kept for rollback
};

struct ApplyReport {
    std::string apply_id;  // empty when there was nothing to do
    ChangeCounts changes;
    bool recovered_first = false;  // an interrupted apply was finished first
};

// Steps 1 to 7. Throws LockedError, DriftError (nothing changed), or Error.
ApplyReport apply_changeset(transport::Transport& target, const Changeset& changeset, ContentFeed& content,
                            const ApplyOptions& options);

struct RecoverReport {
    bool broke_stale_lock = false;
    std::string finished_apply;        // an interrupted commit that was rolled forward
    std::uint64_t staging_removed = 0; // abandoned staging folders cleared
};

// Takes the lock (breaking a stale one if `break_stale_lock`), then finishes
// an interrupted commit from its journal, or clears abandoned staging.
RecoverReport recover(transport::Transport& target, const StateLayout& state, bool break_stale_lock);

}  // namespace exmsync::sync
