#include "sync/pack.hpp"

#include "manifest/file_system.hpp"
#include "sync/archive.hpp"
#include "sync/feeds.hpp"

namespace exmsync::sync {

PackReport pack(const std::string& source, const std::string& base, const std::string& out, const PushOptions& options) {
    auto src = PushSource::open(source, options);
    PackReport report;
    report.source = src->scan;

    TempFile hidden;
    SnapshotOptions scan;
    scan.filter = options.filter;
    scan.hidden_out = hidden.path();
    auto base_snapshot = Snapshot::open(base, scan);
    PlanInput input{base_snapshot->manifest_file(), src->manifest->path(),
                    base_snapshot->scan() ? std::optional(hidden.path()) : std::nullopt,
                    [&](const std::string& path) { return manifest::stat_path(src->root / path).mtime_ns; },
                    options.filter};
    auto plan = make_plan(input, options.plan);
    report.header = plan->header;

    auto tree = transport::open_transport(src->root.string());
    Changeset changeset{plan->header, plan->ops.path()};
    TreeFeed feed(*tree, changeset, plan->new_manifest.path());
    write_archive(out, changeset, feed);
    return report;
}

}  // namespace exmsync::sync
