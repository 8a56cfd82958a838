// A snapshot is a manifest opened for reading, whatever the user pointed at: a
// local folder (scanned now, with its stat cache) or a manifest file.
#pragma once

#include <boost/filesystem/path.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "manifest/filter.hpp"
#include "manifest/format.hpp"
#include "manifest/scanner.hpp"

namespace exmsync::sync {

inline constexpr const char* kStateFolder = ".exmsync";

struct SnapshotOptions {
    manifest::Filter filter;
    bool use_cache = true;
    bool record_symlinks = true;
    // Stat cache file; default: <folder>/.exmsync/statcache.
    std::optional<boost::filesystem::path> cache_file;
};

// A temporary file removed when this goes out of scope.
class TempFile {
public:
    explicit TempFile(const boost::filesystem::path& directory = {});
    ~TempFile();
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    const boost::filesystem::path& path() const { return path_; }

private:
    boost::filesystem::path path_;
};

class Snapshot {
public:
    // `location` is a folder or a manifest file. Throws an Error naming it
    // when it is neither, or when the scan or the file fails.
    static std::unique_ptr<Snapshot> open(const std::string& location, const SnapshotOptions& options);

    // A fresh reader over the snapshot's manifest, from its first entry.
    std::unique_ptr<manifest::ManifestReader> reader() const;
    const boost::filesystem::path& manifest_file() const { return file_; }
    manifest::Hash128 root() const { return root_; }
    bool scanned() const { return scan_.has_value(); }
    // Present when the snapshot came from a scan.
    const std::optional<manifest::ScanResult>& scan() const { return scan_; }
    const std::string& location() const { return location_; }

private:
    std::string location_;
    std::unique_ptr<TempFile> temp_;
    boost::filesystem::path file_;
    manifest::Hash128 root_;
    std::optional<manifest::ScanResult> scan_;
};

// Scans a local folder into `out`, with the stat cache the options choose.
manifest::ScanResult scan_folder(const boost::filesystem::path& folder, const SnapshotOptions& options,
                                 const boost::filesystem::path& out);

}  // namespace exmsync::sync
