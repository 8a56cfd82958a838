// rollback: return a target to the state it had right after an earlier apply,
// using the backups that later applies kept. The way back is itself a
// changeset, applied with the same all-or-nothing protocol and recorded in
// history like any other.
#pragma once

#include <string>

#include "sync/apply.hpp"
#include "sync/snapshot.hpp"

namespace exmsync::sync {

struct RollbackOptions {
    StateLayout state;
    SnapshotOptions scan;
    bool dry_run = false;
};

struct RollbackReport {
    std::string to_apply;  // the apply whose state was restored
    Changeset changeset;
    ApplyReport applied;
};

// `to` is an apply id as `history` lists it, or an unambiguous prefix of it or
// of its changeset id. Throws Error when it is unknown, or when the backups
// it needs have been pruned.
RollbackReport rollback(const std::string& root, const std::string& to, const RollbackOptions& options);

}  // namespace exmsync::sync
