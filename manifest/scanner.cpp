#include "manifest/scanner.hpp"

#include <algorithm>
#include <boost/filesystem/operations.hpp>
#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>

#include "manifest/error.hpp"
#include "manifest/escape.hpp"
#include "manifest/file_system.hpp"
#include "manifest/names.hpp"
#include "manifest/stat_cache.hpp"

namespace exmsync::manifest {
namespace {

namespace fs = boost::filesystem;

// Entries walked but not yet written; bounds memory while hashing lags behind.
constexpr std::size_t kMaxPending = 4096;

struct Item {
    Entry entry;
    FileStat stat;
    fs::path full;
    bool ready = true;
    bool from_cache = false;
    std::uint64_t bytes_read = 0;  // by the hashing threads; 0 when the cache had it
    std::exception_ptr error;
};

// The walker thread appends items in manifest order, hashing threads fill in
// file hashes, and the caller's thread writes items out in order.
class Scan {
public:
    Scan(const fs::path& root, const ScanOptions& options)
        : root_(root), options_(options), cache_(options.cache_file ? *options.cache_file : fs::path()) {}

    ScanResult run(ManifestWriter& out);

private:
    void walk(const std::string& rel, const fs::path& dir);
    void walk_thread();
    void hash_thread();
    void hash_item(Item& item);
    void push(std::unique_ptr<Item> item);
    std::unique_ptr<Item> make_item(const std::string& rel, const fs::path& full, const FileStat& st);
    void stop_all();

    fs::path root_;
    const ScanOptions& options_;
    StatCacheReader cache_;
    std::vector<std::string> walk_warnings_;

    std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<std::unique_ptr<Item>> pending_;
    std::deque<Item*> jobs_;
    bool walk_done_ = false;
    bool stopping_ = false;
    std::exception_ptr walk_error_;
};

std::unique_ptr<Item> Scan::make_item(const std::string& rel, const fs::path& full, const FileStat& st) {
    auto item = std::make_unique<Item>();
    item->entry.path = rel;
    item->stat = st;
    item->full = full;
    switch (st.kind) {
        case FileKind::Directory: item->entry.type = EntryType::Directory; break;
        case FileKind::Symlink: {
            std::string target = manifest::read_symlink(full);
            item->entry.type = EntryType::Symlink;
            item->entry.size = target.size();
            item->entry.hash = hash_bytes(target);
            break;
        }
        default: {
            item->entry.type = EntryType::File;
            item->entry.size = st.size;
            if (options_.cache_file) {
                if (auto cached = cache_.lookup(rel, st)) {
                    item->entry.hash = *cached;
                    item->from_cache = true;
                    break;
                }
            }
            item->ready = false;
        }
    }
    return item;
}

void Scan::walk(const std::string& rel, const fs::path& dir) {
    std::vector<std::string> names;
    boost::system::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        names.push_back(it->path().filename().string());
    if (ec)
        throw Error("cannot list folder " + dir.string() + ": " + ec.message() + "; fix its permissions or exclude it");
    std::sort(names.begin(), names.end());  // byte order of names is manifest order of siblings

    for (const auto& name : names) {
        std::string child = rel.empty() ? name : rel + "/" + name;
        if (std::find(options_.skip.begin(), options_.skip.end(), child) != options_.skip.end()) continue;
        fs::path full = dir / name;
        auto st = stat_if_exists(full);
        if (!st) continue;  // deleted since the listing: it is simply not in the tree
        if (st->kind == FileKind::Other) {
            walk_warnings_.push_back("skipped '" + escape_path(child) + "': not a file, folder or symlink");
            continue;
        }
        bool is_dir = st->kind == FileKind::Directory;
        if (options_.filter.excluded(child, is_dir)) continue;
        push(make_item(child, full, *st));
        if (is_dir) walk(child, full);
    }
}

void Scan::push(std::unique_ptr<Item> item) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return pending_.size() < kMaxPending || stopping_; });
    if (stopping_) throw Error("scan stopped");
    if (!item->ready) jobs_.push_back(item.get());
    pending_.push_back(std::move(item));
    changed_.notify_all();
}

void Scan::walk_thread() {
    try {
        walk("", root_);
    } catch (...) {
        std::lock_guard lock(mutex_);
        if (!stopping_) walk_error_ = std::current_exception();
    }
    std::lock_guard lock(mutex_);
    walk_done_ = true;
    changed_.notify_all();
}

void Scan::hash_item(Item& item) {
    for (int attempt = 0; attempt < options_.attempts; ++attempt) {
        if (auto hashed = hash_file(item.full, item.stat)) {
            item.entry.hash = hashed->hash;
            item.bytes_read += hashed->bytes_read;
            return;
        }
        auto now = stat_if_exists(item.full);
        if (!now)
            throw Error("'" + item.full.string() + "' disappeared while it was hashed; run the scan again");
        if (now->kind != FileKind::File)
            throw Error("'" + item.full.string() + "' stopped being a regular file while it was hashed; run the scan again");
        item.stat = *now;
        item.entry.size = now->size;
    }
    throw Error("'" + item.full.string() + "' kept changing while it was hashed (" + std::to_string(options_.attempts) +
                " attempts); run again when it is quiet, or exclude it");
}

void Scan::hash_thread() {
    while (true) {
        Item* item;
        {
            std::unique_lock lock(mutex_);
            changed_.wait(lock, [&] { return !jobs_.empty() || walk_done_ || stopping_; });
            if (jobs_.empty() || stopping_) return;
            item = jobs_.front();
            jobs_.pop_front();
        }
        try {
            hash_item(*item);
        } catch (...) {
            item->error = std::current_exception();
        }
        std::lock_guard lock(mutex_);
        item->ready = true;
        changed_.notify_all();
    }
}

void Scan::stop_all() {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    changed_.notify_all();
}

ScanResult Scan::run(ManifestWriter& out) {
    auto root_stat = stat_if_exists(root_);
    if (!root_stat || root_stat->kind != FileKind::Directory)
        throw Error("cannot scan " + root_.string() + ": no such folder; check the path (is the share mounted?)");

    std::int64_t scan_start = now_ns();
    std::optional<StatCacheWriter> new_cache;
    if (options_.cache_file) new_cache.emplace(*options_.cache_file);

    ScanResult result;
    NameChecker names;
    unsigned threads = options_.threads ? options_.threads : std::max(1u, std::thread::hardware_concurrency());
    std::vector<std::thread> workers;
    workers.emplace_back([this] { walk_thread(); });
    for (unsigned i = 0; i < threads; ++i) workers.emplace_back([this] { hash_thread(); });
    auto join = [&] {
        for (auto& t : workers)
            if (t.joinable()) t.join();
    };

    try {
        while (true) {
            std::unique_ptr<Item> item;
            {
                std::unique_lock lock(mutex_);
                changed_.wait(lock, [&] { return (!pending_.empty() && pending_.front()->ready) || (walk_done_ && pending_.empty()); });
                if (pending_.empty()) break;
                item = std::move(pending_.front());
                pending_.pop_front();
                changed_.notify_all();
            }
            if (item->error) std::rethrow_exception(item->error);
            const Entry& e = item->entry;
            names.add(e);
            out.add(e);
            auto& s = result.stats;
            if (e.type == EntryType::Directory) ++s.directories;
            else if (e.type == EntryType::Symlink) ++s.symlinks;
            else {
                ++s.files;
                s.bytes += e.size;
                if (item->from_cache) {
                    ++s.cached_files;
                } else {
                    ++s.hashed_files;
                    s.hashed_bytes += item->bytes_read;
                }
                if (new_cache && is_cacheable(item->stat, scan_start))
                    new_cache->add(e.path, item->stat, e.hash);
            }
        }
        if (walk_error_) std::rethrow_exception(walk_error_);
    } catch (...) {
        stop_all();
        join();
        throw;
    }
    join();
    result.root = out.finish();
    if (new_cache) new_cache->commit();
    result.warnings = std::move(walk_warnings_);
    for (const auto& w : names.warnings()) result.warnings.push_back(w);
    return result;
}

}  // namespace

ScanResult scan_tree(const fs::path& root, const ScanOptions& options, ManifestWriter& out) {
    Scan scan(root, options);
    return scan.run(out);
}

}  // namespace exmsync::manifest
