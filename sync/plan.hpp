// Planning: from the difference between a target's manifest (the base) and
// the source's, the changeset that makes the target equal the source.
#pragma once

#include <boost/filesystem/path.hpp>
#include <cstdint>
#include <functional>
#include <string>

#include "manifest/diff.hpp"
#include "manifest/format.hpp"
#include "sync/changeset.hpp"

namespace exmsync::sync {

struct PlanOptions {
    // false: files and folders only on the target stay there.
    bool deletes = true;
};

// The mtime a written file gets: the source file's.
using MtimeOf = std::function<std::int64_t(const std::string& path)>;

// `diff` is diff_streams(target, source). Source symlinks must already be
// left out (they are never pushed); the target's are deleted or replaced.
// The roots are left for manifest_after() to fill in.
Changeset plan_changeset(const manifest::DiffResult& diff, const MtimeOf& mtime_of, const PlanOptions& options);

// Writes the manifest a target holding `base` has after `changeset`, to
// `out`, and sets the changeset's base and new roots. Memory grows with the
// changeset, not the tree.
void manifest_after(manifest::EntryStream& base, Changeset& changeset, const boost::filesystem::path& out);

struct ChangeCounts {
    std::uint64_t writes = 0, deletes = 0, renames = 0, mkdirs = 0, rmdirs = 0, bytes = 0;
};
ChangeCounts count_changes(const Changeset& changeset);

}  // namespace exmsync::sync
