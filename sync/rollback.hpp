// rollback: return a target to the state it had right after an earlier apply
// (or, for 000000, before exmsync first touched it), using the backups that
// later applies kept. The way back is itself a changeset, applied with the
// same all-or-nothing protocol and recorded in history like any other.
#pragma once

#include <string>

#include "sync/apply.hpp"
#include "sync/plan.hpp"

namespace exmsync::sync {

struct RollbackOptions {
    bool dry_run = false;
    unsigned keep_backups = 5;
};

struct RollbackReport {
    std::string to_apply;  // the apply whose state was restored
    std::shared_ptr<Plan> plan;
    ApplyReport applied;
    std::vector<std::string> notes;  // what recovery did first
};

// `to` is an apply id as `history` lists it, or an unambiguous prefix of it
// or of its changeset id. Throws UsageError when it is unknown, and Error
// when the backups it needs have been pruned.
RollbackReport rollback(transport::Transport& target, const std::string& to, const RollbackOptions& options);

}  // namespace exmsync::sync
