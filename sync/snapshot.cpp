#include "sync/snapshot.hpp"

#include <algorithm>
#include <boost/filesystem/operations.hpp>
#include <cstdlib>
#include <fstream>
#include <vector>

#include "manifest/file_system.hpp"
#include "sync/error.hpp"
#include "sync/log.hpp"
#include "sync/target.hpp"
#include "platform/files.hpp"
#include "platform/process.hpp"

namespace exmsync::sync {
namespace fs = boost::filesystem;

namespace {

// Keeps the cache folder bounded: the least recently used caches go, with
// the roots kept beside them.
void trim_cache_dir(const fs::path& dir) {
    boost::system::error_code ec;
    std::vector<std::pair<std::time_t, fs::path>> files;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        if (it->path().extension() == ".statcache") files.emplace_back(fs::last_write_time(it->path(), ec), it->path());
    if (files.size() <= kMaxCacheFiles) return;
    std::sort(files.begin(), files.end());
    for (std::size_t i = 0; i + kMaxCacheFiles < files.size(); ++i) {
        fs::remove(files[i].second, ec);
        fs::remove(fs::path(files[i].second.string() + ".root"), ec);
    }
}

// The stat cache a scan of `folder` with `options` uses (absolute: a bare
// --cache NAME has no parent to create).
fs::path stat_cache_of(const fs::path& folder, const SnapshotOptions& options) {
    return fs::absolute(options.cache_file ? *options.cache_file : cache_file_for(folder));
}

std::optional<fs::path> root_file_for(const fs::path& folder, const SnapshotOptions& options) {
    if (!options.use_cache) return std::nullopt;
    try {
        return fs::path(stat_cache_of(folder, options).string() + ".root");
    } catch (const std::exception&) {
        return std::nullopt;  // the scan itself reports a folder it cannot reach
    }
}

// The filter, as one line that differs for every different filter.
std::string filter_key(const FilterSpec& filter) {
    std::string text = filter.default_excludes ? "d" : "n";
    for (const auto& p : filter.include) text += "i" + std::to_string(p.size()) + ":" + p;
    for (const auto& p : filter.exclude) text += "e" + std::to_string(p.size()) + ":" + p;
    return manifest::hash_bytes(text).hex();
}

}  // namespace

fs::path user_cache_dir() {
#ifdef _WIN32
    if (auto local = platform::environment("LOCALAPPDATA"); !local.empty()) return fs::path(local) / "exmsync";
#endif
    if (auto xdg = platform::environment("XDG_CACHE_HOME"); !xdg.empty()) return fs::path(xdg) / "exmsync";
    if (auto home = platform::environment("HOME"); !home.empty()) return fs::path(home) / ".cache" / "exmsync";
    return fs::temp_directory_path() / "exmsync-cache";
}

fs::path cache_file_for(const fs::path& folder) {
    fs::path absolute = fs::absolute(folder);
    auto st = manifest::stat_path(absolute);
    std::string key = std::to_string(st.device) + "\n" + std::to_string(st.inode) + "\n" + absolute.string();
    return user_cache_dir() / (manifest::hash_bytes(key).hex() + ".statcache");
}

std::optional<manifest::Hash128> last_scanned_root(const fs::path& folder, const SnapshotOptions& options) {
    auto file = root_file_for(folder, options);
    if (!file) return std::nullopt;
    std::ifstream in(platform::stream_path(file->string()));
    std::string key, root;
    if (!(in >> key >> root) || key != filter_key(options.filter)) return std::nullopt;
    return manifest::Hash128::from_hex(root);
}

void remember_scanned_root(const fs::path& folder, const SnapshotOptions& options, const manifest::Hash128& root) {
    auto file = root_file_for(folder, options);
    if (!file) return;
    // Written whole under another name and renamed: a reader never sees half.
    const fs::path fresh = file->string() + ".new";
    {
        std::ofstream out(platform::stream_path(fresh.string()), std::ios::trunc);
        out << filter_key(options.filter) << ' ' << root.hex() << '\n';
        if (!out) return;
    }
    boost::system::error_code ec;
    fs::rename(fresh, *file, ec);
}

manifest::ScanResult scan_folder(const fs::path& folder, const SnapshotOptions& options, const fs::path& out) {
    manifest::ScanOptions scan;
    scan.filter = options.filter.filter();
    scan.record_symlinks = options.record_symlinks;
    scan.hidden_out = options.hidden_out;
    if (options.use_cache) {
        fs::path cache = stat_cache_of(folder, options);
        boost::system::error_code ec;
        fs::create_directories(cache.parent_path(), ec);
        if (ec) {
            log::warn("cannot create the cache folder {} ({}); scanning {} without a stat cache",
                      cache.parent_path().string(), ec.message(), folder.string());
        } else {
            scan.cache_in = scan.cache_out = cache;
        }
    }
    manifest::ManifestWriter writer(out);
    auto result = manifest::scan_tree(folder, scan, writer);
    if (scan.cache_out && !options.cache_file) trim_cache_dir(scan.cache_out->parent_path());
    return result;
}

std::unique_ptr<Snapshot> Snapshot::open(const std::string& location, const SnapshotOptions& options) {
    auto snap = std::make_unique<Snapshot>();
    snap->location_ = location;
    if (!transport::local_location(location)) {
        auto target = open_target(location, options.target);
        snap->temp_ = std::make_unique<TempFile>();
        snap->file_ = snap->temp_->path();
        snap->scan_ = target->peek(options.filter).scan;
        TempFile hidden;
        target->fetch_manifest(snap->file_, options.hidden_out ? *options.hidden_out : hidden.path());
        snap->root_ = snap->scan_->root;
        return snap;
    }
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
