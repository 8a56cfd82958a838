// Drift: paths that differ between the manifest recorded by a target's last
// apply and what the target holds now, because someone edited it by hand.
// A push reports them (and records them in history) before it overwrites them.
#pragma once

#include <boost/filesystem/path.hpp>
#include <cstdint>
#include <memory>
#include <vector>

#include "manifest/sorted_file.hpp"
#include "sync/changeset.hpp"
#include "sync/state.hpp"
#include "sync/target.hpp"

namespace exmsync::sync {

struct Drift {
    manifest::TempFile file;  // "old hash or - TAB escaped path" per line, as history keeps it
    std::uint64_t count = 0;
    std::vector<DriftItem> shown;  // the first kDriftShown
};

// `actual` is the target's manifest under `filter`, with root `actual_root`.
// Only paths both filters (the last apply's and this one) cover are compared,
// so a changed filter is not drift; a folder that appeared or went alone is
// not either (one holding only files outside the sync set shows that way).
std::unique_ptr<Drift> find_drift(StateFolder& state, const FilterSpec& filter, const boost::filesystem::path& actual,
                                  const manifest::Hash128& actual_root);

}  // namespace exmsync::sync
