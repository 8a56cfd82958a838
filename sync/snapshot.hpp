// A snapshot is a manifest opened for reading, whatever the user pointed at: a
// local folder (scanned now) or a manifest file.
//
// Reading never writes: a folder is scanned without creating or changing
// anything inside it. Its stat cache lives in the user's cache folder
// ($XDG_CACHE_HOME/exmsync, else ~/.cache/exmsync; %LOCALAPPDATA%\exmsync on
// Windows), one file per scanned folder, keyed by the folder's device, inode
// and path; the folder keeps at most kMaxCacheFiles of them (the least
// recently used go first) and any of them may be deleted at any time.
#pragma once

#include <boost/filesystem/path.hpp>
#include <memory>
#include <optional>
#include <string>

#include "manifest/format.hpp"
#include "manifest/scanner.hpp"
#include "manifest/sorted_file.hpp"
#include "sync/changeset.hpp"
#include "sync/target.hpp"
#include "transport/transport.hpp"

namespace exmsync::sync {

using manifest::TempFile;

inline constexpr std::size_t kMaxCacheFiles = 64;

struct SnapshotOptions {
    FilterSpec filter;
    bool use_cache = true;
    bool record_symlinks = true;
    // A stat cache file of the user's choosing, instead of the cache folder.
    std::optional<boost::filesystem::path> cache_file;
    // Where to list the folders that hold entries outside the sync set.
    std::optional<boost::filesystem::path> hidden_out;
    // How a location that is a URL (ssh://) is reached.
    TargetOptions target;
};

// The user's cache folder for exmsync (not created here).
boost::filesystem::path user_cache_dir();
// The stat cache file for `folder` in it.
boost::filesystem::path cache_file_for(const boost::filesystem::path& folder);

// The root the last scan of `folder` with the cache of `options` found under
// the same filter, kept beside that cache (nullopt: none, another filter, or
// no cache). A guess, never trusted as the folder's state: push uses it to
// check settled targets while the source is being scanned.
std::optional<manifest::Hash128> last_scanned_root(const boost::filesystem::path& folder,
                                                   const SnapshotOptions& options);
// Keeps `root` as that guess for the next scan; a failure to write it is ignored.
void remember_scanned_root(const boost::filesystem::path& folder, const SnapshotOptions& options,
                           const manifest::Hash128& root);

class Snapshot {
public:
    // `location` is a folder (a path, or a URL such as ssh://) or a manifest
    // file. Throws an Error naming it when it is neither, or when the scan or
    // the file fails. A remote folder is scanned with its own stat cache,
    // read and never written.
    static std::unique_ptr<Snapshot> open(const std::string& location, const SnapshotOptions& options);

    // A fresh reader over the snapshot's manifest, from its first entry.
    std::unique_ptr<manifest::ManifestReader> reader() const;
    const boost::filesystem::path& manifest_file() const { return file_; }
    manifest::Hash128 root() const { return root_; }
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

// Scans a local folder into `out` without writing anything inside it.
manifest::ScanResult scan_folder(const boost::filesystem::path& folder, const SnapshotOptions& options,
                                 const boost::filesystem::path& out);

}  // namespace exmsync::sync
