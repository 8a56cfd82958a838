// pack: write the changeset archive that brings a target holding a given
// manifest up to date with the source, for offline delivery and audits. The
// archive is applied on the target with `exmsync apply`.
#pragma once

#include <string>

#include "sync/changeset.hpp"
#include "sync/plan.hpp"
#include "sync/snapshot.hpp"

namespace exmsync::sync {

struct PackOptions {
    SnapshotOptions scan;
    PlanOptions plan;
};

struct PackReport {
    Changeset changeset;
    manifest::ScanResult source;
};

// `base` is the target's manifest file (or a folder standing for it). Writes
// `out` even when the changeset is empty, so a pipeline can always apply it.
PackReport pack(const std::string& source, const std::string& base, const std::string& out, const PackOptions& options);

}  // namespace exmsync::sync
