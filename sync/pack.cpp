#include "sync/pack.hpp"

#include <boost/filesystem/operations.hpp>

#include "manifest/diff.hpp"
#include "manifest/file_system.hpp"
#include "sync/archive.hpp"
#include "sync/error.hpp"
#include "sync/feeds.hpp"
#include "transport/transport.hpp"

namespace exmsync::sync {
namespace fs = boost::filesystem;

PackReport pack(const std::string& source, const std::string& base, const std::string& out, const PackOptions& options) {
    boost::system::error_code ec;
    if (!fs::is_directory(source, ec))
        throw Error("source " + source + " is not a folder; check the path (is the share mounted?)");
    fs::path root = fs::absolute(source);
    PackReport report;
    TempFile source_manifest;
    SnapshotOptions scan = options.scan;
    scan.record_symlinks = false;
    report.source = scan_folder(root, scan, source_manifest.path());

    auto base_snapshot = Snapshot::open(base, options.scan);
    auto base_stream = base_snapshot->reader();
    manifest::ManifestReader source_stream(source_manifest.path());
    auto diff = manifest::diff_streams(*base_stream, source_stream);
    auto mtime_of = [&](const std::string& path) { return manifest::stat_path(root / path).mtime_ns; };
    report.changeset = plan_changeset(diff, mtime_of, options.plan);

    TempFile after;
    auto base_again = base_snapshot->reader();
    manifest_after(*base_again, report.changeset, after.path());
    auto tree = transport::open_transport(root.string());
    TreeFeed feed(*tree, report.changeset, after.path());
    write_archive(out, report.changeset, feed);
    return report;
}

}  // namespace exmsync::sync
