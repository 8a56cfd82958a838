#include "sync/snapshot.hpp"

#include <boost/filesystem/operations.hpp>

#include "sync/error.hpp"

namespace exmsync::sync {
namespace fs = boost::filesystem;

TempFile::TempFile(const fs::path& directory) {
    fs::path dir = directory.empty() ? fs::temp_directory_path() : directory;
    path_ = dir / fs::unique_path("exmsync-%%%%-%%%%-%%%%.tmp");
}

TempFile::~TempFile() {
    boost::system::error_code ec;
    fs::remove(path_, ec);
}

manifest::ScanResult scan_folder(const fs::path& folder, const SnapshotOptions& options, const fs::path& out) {
    manifest::ScanOptions scan;
    scan.filter = options.filter;
    scan.record_symlinks = options.record_symlinks;
    if (options.use_cache) {
        if (options.cache_file) {
            scan.cache_file = options.cache_file;
        } else {
            // The cache lives in the state folder; a read-only tree is scanned
            // without one rather than refused.
            boost::system::error_code ec;
            fs::create_directory(folder / kStateFolder, ec);
            if (!ec) scan.cache_file = folder / kStateFolder / "statcache";
        }
    }
    manifest::ManifestWriter writer(out);
    auto result = manifest::scan_tree(folder, scan, writer);
    if (options.use_cache && !scan.cache_file)
        result.warnings.push_back("cannot create " + (folder / kStateFolder).string() +
                                  "; scanned without a stat cache, so every file was hashed");
    return result;
}

std::unique_ptr<Snapshot> Snapshot::open(const std::string& location, const SnapshotOptions& options) {
    auto snap = std::make_unique<Snapshot>();
    snap->location_ = location;
    boost::system::error_code ec;
    auto status = fs::status(location, ec);
    if (fs::is_directory(status)) {
        snap->temp_ = std::make_unique<TempFile>();
        snap->file_ = snap->temp_->path();
        snap->scan_ = scan_folder(location, options, snap->file_);
        snap->root_ = snap->scan_->root;
    } else if (fs::is_regular_file(status)) {
        snap->file_ = location;
        snap->root_ = manifest::ManifestReader(snap->file_).root();
    } else {
        throw Error("'" + location + "' is neither a folder nor a manifest file; check the path (is the share mounted?)");
    }
    return snap;
}

std::unique_ptr<manifest::ManifestReader> Snapshot::reader() const {
    return std::make_unique<manifest::ManifestReader>(file_);
}

}  // namespace exmsync::sync
