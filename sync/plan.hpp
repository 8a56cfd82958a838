// Planning: from a target's manifest (the base) and the source's, the
// changeset that makes the target equal the source, written one operation at
// a time, and the manifest the target holds afterwards.
//
// What a filter leaves out is never deleted and never blocks a removal: a
// folder the source removed that still holds entries outside the sync set on
// the target (listed by the scan's hidden-folder list) is kept, with its
// ancestors, and reported once. With deletes off, target-only entries stay;
// a source file where the target has a folder with something in it cannot be
// written without deleting, and is refused naming the path.
#pragma once

#include <boost/filesystem/path.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "manifest/sorted_file.hpp"
#include "sync/changeset.hpp"
#include "sync/error.hpp"

namespace exmsync::sync {

struct PlanOptions {
    // false: files and folders only on the target stay there.
    bool deletes = true;
    // false: refuse source names Windows would refuse (checked by the push).
    bool portable = true;
    bool detect_renames = true;
};

// The mtime a written file gets: the source file's.
using MtimeOf = std::function<std::int64_t(const std::string& path)>;

struct PlanInput {
    boost::filesystem::path target_manifest;            // the base
    boost::filesystem::path source_manifest;            // symlinks already left out
    std::optional<boost::filesystem::path> target_hidden;  // folders holding hidden entries
    MtimeOf mtime_of;
    FilterSpec filter;  // recorded in the header
};

struct Plan {
    ChangesetHeader header;
    manifest::TempFile ops;           // the operation list
    manifest::TempFile new_manifest;  // the target's manifest after apply
    // Topmost folders kept because they hold entries outside the sync set.
    std::vector<std::string> kept;
    std::uint64_t kept_count = 0;
};

// A source entry that cannot be written without deleting what the options
// (or the filter) keep on the target.
class ConflictError : public Error {
public:
    using Error::Error;
    const char* code() const override { return "conflict"; }
};

// Throws ConflictError naming the path.
std::unique_ptr<Plan> make_plan(const PlanInput& input, const PlanOptions& options);

}  // namespace exmsync::sync
