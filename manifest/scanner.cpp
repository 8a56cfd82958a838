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
#include "manifest/sorted_file.hpp"
#include "manifest/stat_cache.hpp"
#include "manifest/tree.hpp"

namespace exmsync::manifest {
namespace {

namespace fs = boost::filesystem;

// Entries walked but not yet written; bounds memory while hashing lags behind.
constexpr std::size_t kMaxPending = 256;
// Items move between threads in batches, so the threads meet (and wake each
// other) a few hundred times per 100,000 files instead of once per file.
constexpr std::size_t kBatch = 64;
constexpr std::size_t kJobsPerTake = 16;

struct Item {
    Entry entry;
    FileStat stat;
    bool ready = true;
    bool from_cache = false;
    std::uint64_t bytes_read = 0;  // by the hashing threads; 0 when the cache had it
    std::exception_ptr error;
};

// The walker thread appends items in manifest order, hashing threads fill in
// file hashes, and the caller's thread writes items out in order.
class Scan {
public:
    Scan(Tree& tree, const ScanOptions& options)
        : tree_(tree), options_(options), cache_(options.cache_in ? *options.cache_in : fs::path()) {}

    ScanResult run(ManifestWriter& out);

private:
    void walk(const std::string& rel);
    void warn(std::string text) {
        if (walk_warnings_.size() < kMaxWarningsKept) walk_warnings_.push_back(std::move(text));
        ++walk_warning_count_;
    }
    void walk_thread();
    void hash_thread();
    void hash_item(Item& item);
    void add(std::unique_ptr<Item> item);
    void flush_batch();
    std::vector<std::unique_ptr<Item>> take_ready();
    void record(Item& item, ManifestWriter& out, ScanResult& result);
    std::unique_ptr<Item> make_item(std::string rel, const FileStat& st);
    // A path for messages: where the tree is, and the path in it.
    std::string shown(const std::string& rel) const { return tree_.describe() + "/" + rel; }
    void stop_all();

    Tree& tree_;
    const ScanOptions& options_;
    StatCacheReader cache_;
    std::vector<std::string> walk_warnings_;
    std::uint64_t walk_warning_count_ = 0;
    NameChecker names_;
    std::optional<StatCacheWriter> new_cache_;
    std::optional<LineWriter> hidden_;  // walker thread only
    std::int64_t scan_start_ = 0;

    std::vector<std::unique_ptr<Item>> batch_;  // walker-only: handed over in one lock

    std::mutex mutex_;
    std::condition_variable walker_wakeup_;
    std::condition_variable hasher_wakeup_;
    std::condition_variable consumer_wakeup_;
    std::deque<std::unique_ptr<Item>> pending_;
    std::deque<Item*> jobs_;
    bool walk_done_ = false;
    bool stopping_ = false;
    std::exception_ptr walk_error_;
};

std::unique_ptr<Item> Scan::make_item(std::string rel, const FileStat& st) {
    auto item = std::make_unique<Item>();
    item->stat = st;
    switch (st.kind) {
        case FileKind::Directory: item->entry.type = EntryType::Directory; break;
        case FileKind::Symlink: {
            std::string target = tree_.read_symlink(rel);
            item->entry.type = EntryType::Symlink;
            item->entry.size = target.size();
            item->entry.hash = hash_bytes(target);
            break;
        }
        default: {
            item->entry.type = EntryType::File;
            item->entry.size = st.size;
            if (options_.cache_in) {
                if (auto cached = cache_.lookup(rel, st)) {
                    item->entry.hash = *cached;
                    item->from_cache = true;
                    break;
                }
            }
            item->ready = false;
        }
    }
    item->entry.path = std::move(rel);
    return item;
}

void Scan::walk(const std::string& rel) {
    bool holds_hidden = false;
    std::vector<std::pair<std::string, const DirChild*>> kept;
    auto children = tree_.list(rel);
    for (auto& child : children) {
        std::string path = rel.empty() ? child.name : rel + "/" + child.name;
        const FileStat& st = child.stat;
        bool is_dir = st.kind == FileKind::Directory;
        bool left_out = options_.filter.excluded(path, is_dir);
        if (!left_out && is_state_folder_name(child.name)) {
            // The root's own state folder is expected; any other spelling or
            // depth would be the state folder itself on a Windows target.
            if (!rel.empty() || child.name != kStateFolder)
                warn("left out '" + escape_path(path) + "': the name of exmsync's state folder is never synced");
            left_out = true;
        }
        if (!left_out && st.kind == FileKind::Other) {
            warn("skipped '" + escape_path(path) + "': not a file, folder or symlink");
            left_out = true;
        }
        if (!left_out && st.kind == FileKind::Symlink && !options_.record_symlinks) {
            warn("left out symlink '" + escape_path(path) + "': symlinks are never pushed");
            left_out = true;
        }
        holds_hidden = holds_hidden || left_out;
        if (!left_out) kept.emplace_back(std::move(path), &child);
    }
    // Listed before its subtree, which keeps the list in manifest order.
    if (holds_hidden && !rel.empty() && hidden_) hidden_->add(escape_path(rel));
    std::vector<std::string> folders;
    for (auto& [path, child] : kept)
        if (child->stat.kind == FileKind::Directory) folders.push_back(path);
    if (!folders.empty()) tree_.list_ahead(folders);
    for (auto& [path, child] : kept) {
        if (child->stat.kind != FileKind::Directory) {
            add(make_item(std::move(path), child->stat));
            continue;
        }
        add(make_item(path, child->stat));
        walk(path);
    }
}

void Scan::add(std::unique_ptr<Item> item) {
    batch_.push_back(std::move(item));
    if (batch_.size() >= kBatch) flush_batch();
}

void Scan::flush_batch() {
    if (batch_.empty()) return;
    std::unique_lock lock(mutex_);
    walker_wakeup_.wait(lock, [&] { return pending_.size() < kMaxPending || stopping_; });
    if (stopping_) throw Error("scan stopped");
    bool new_jobs = false;
    for (auto& item : batch_) {
        if (!item->ready) {
            jobs_.push_back(item.get());
            new_jobs = true;
        }
        pending_.push_back(std::move(item));
    }
    batch_.clear();
    if (new_jobs) hasher_wakeup_.notify_all();
    consumer_wakeup_.notify_one();
}

void Scan::walk_thread() {
    try {
        walk("");
        flush_batch();
        if (hidden_) hidden_->close();
    } catch (...) {
        std::lock_guard lock(mutex_);
        if (!stopping_) walk_error_ = std::current_exception();
    }
    std::lock_guard lock(mutex_);
    walk_done_ = true;
    hasher_wakeup_.notify_all();
    consumer_wakeup_.notify_one();
}

void Scan::hash_item(Item& item) {
    const std::string& path = item.entry.path;
    for (int attempt = 0; attempt < options_.attempts; ++attempt) {
        if (auto hashed = tree_.hash(path, item.stat)) {
            item.entry.hash = hashed->hash;
            item.bytes_read += hashed->bytes_read;
            return;
        }
        auto now = tree_.stat(path);
        if (!now) throw Error("'" + shown(path) + "' disappeared while it was hashed; run the scan again");
        if (now->kind != FileKind::File)
            throw Error("'" + shown(path) + "' stopped being a regular file while it was hashed; run the scan again");
        item.stat = *now;
        item.entry.size = now->size;
    }
    throw Error("'" + shown(path) + "' kept changing while it was hashed (" + std::to_string(options_.attempts) +
                " attempts); run again when it is quiet, or exclude it");
}

void Scan::hash_thread() {
    std::vector<Item*> taken;
    while (true) {
        {
            std::unique_lock lock(mutex_);
            for (Item* item : taken) item->ready = true;
            if (!taken.empty()) consumer_wakeup_.notify_one();
            taken.clear();
            hasher_wakeup_.wait(lock, [&] { return !jobs_.empty() || walk_done_ || stopping_; });
            if (jobs_.empty() || stopping_) return;
            while (!jobs_.empty() && taken.size() < kJobsPerTake) {
                taken.push_back(jobs_.front());
                jobs_.pop_front();
            }
        }
        for (Item* item : taken) {
            try {
                hash_item(*item);
            } catch (...) {
                item->error = std::current_exception();
            }
        }
    }
}

std::vector<std::unique_ptr<Item>> Scan::take_ready() {
    std::vector<std::unique_ptr<Item>> ready;
    std::unique_lock lock(mutex_);
    while (true) {
        if (stopping_ || (!pending_.empty() && pending_.front()->ready) || (walk_done_ && pending_.empty())) break;
        if (jobs_.empty()) {
            consumer_wakeup_.wait(lock);
            continue;
        }
        // Rather than sleep until the next entry is hashed, hash one too.
        Item* job = jobs_.front();
        jobs_.pop_front();
        lock.unlock();
        try {
            hash_item(*job);
        } catch (...) {
            job->error = std::current_exception();
        }
        lock.lock();
        job->ready = true;
    }
    while (!pending_.empty() && pending_.front()->ready) {
        ready.push_back(std::move(pending_.front()));
        pending_.pop_front();
    }
    walker_wakeup_.notify_one();
    return ready;
}

void Scan::stop_all() {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    walker_wakeup_.notify_all();
    hasher_wakeup_.notify_all();
    consumer_wakeup_.notify_all();
}

// Writes one item out, in manifest order, on the caller's thread.
void Scan::record(Item& item, ManifestWriter& out, ScanResult& result) {
    if (item.error) std::rethrow_exception(item.error);
    const Entry& e = item.entry;
    names_.add(e);
    out.add(e);
    auto& s = result.stats;
    if (e.type == EntryType::Directory) {
        ++s.directories;
    } else if (e.type == EntryType::Symlink) {
        ++s.symlinks;
    } else {
        ++s.files;
        s.bytes += e.size;
        if (item.from_cache) {
            ++s.cached_files;
        } else {
            ++s.hashed_files;
            s.hashed_bytes += item.bytes_read;
        }
        if (new_cache_ && is_cacheable(item.stat, scan_start_)) new_cache_->add(e.path, item.stat, e.hash);
    }
}

ScanResult Scan::run(ManifestWriter& out) {
    auto root_stat = tree_.stat("");
    if (!root_stat || root_stat->kind != FileKind::Directory)
        throw Error("cannot scan " + tree_.describe() + ": no such folder; check the path (is the share mounted?)");

    scan_start_ = options_.started_ns ? *options_.started_ns : now_ns();
    if (options_.cache_out) new_cache_.emplace(*options_.cache_out);
    if (options_.hidden_out) hidden_.emplace(*options_.hidden_out);

    ScanResult result;
    // This thread hashes too, so a tree that takes one reader at a time
    // gets no hashing threads of its own.
    unsigned threads = options_.threads ? options_.threads : std::max(1u, std::thread::hardware_concurrency());
    if (tree_.parallelism() > 0) threads = std::min(threads, tree_.parallelism() - 1);
    std::vector<std::thread> workers;
    workers.emplace_back([this] { walk_thread(); });
    for (unsigned i = 0; i < threads; ++i) workers.emplace_back([this] { hash_thread(); });
    auto join = [&] {
        for (auto& t : workers)
            if (t.joinable()) t.join();
    };

    try {
        while (true) {
            auto ready = take_ready();
            if (ready.empty()) break;
            for (auto& item : ready) record(*item, out, result);
        }
        if (walk_error_) std::rethrow_exception(walk_error_);
    } catch (...) {
        stop_all();
        join();
        throw;
    }
    join();
    result.root = out.finish();
    cache_.close();
    if (new_cache_) new_cache_->commit();
    if (hidden_) result.hidden_folders = hidden_->count();
    result.warnings = std::move(walk_warnings_);
    result.warning_count = walk_warning_count_;
    result.name_problems = names_.problems();
    result.name_problem_count = names_.count();
    return result;
}

}  // namespace

ScanResult scan_tree(Tree& tree, const ScanOptions& options, ManifestWriter& out) {
    Scan scan(tree, options);
    return scan.run(out);
}

ScanResult scan_tree(const fs::path& root, const ScanOptions& options, ManifestWriter& out) {
    auto tree = local_tree(root);
    return scan_tree(*tree, options, out);
}

}  // namespace exmsync::manifest
