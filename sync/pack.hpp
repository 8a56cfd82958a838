// pack: write the changeset archive that brings a target holding a given
// manifest up to date with the source, for offline delivery and audits. The
// archive is applied on the target with `exmsync apply`.
#pragma once

#include <string>

#include "sync/plan.hpp"
#include "sync/push.hpp"

namespace exmsync::sync {

struct PackReport {
    ChangesetHeader header;
    manifest::ScanResult source;
};

// `base` is the target's manifest file, or a folder standing for it. Writes
// `out` even when the changeset is empty, so a pipeline can always apply it.
// The source is checked as a push checks it: a file that changes while it is
// packed refuses the pack, and no archive is left behind.
PackReport pack(const std::string& source, const std::string& base, const std::string& out, const PushOptions& options);

}  // namespace exmsync::sync
