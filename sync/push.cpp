#include "sync/push.hpp"

#include <boost/filesystem/operations.hpp>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "manifest/diff.hpp"
#include "manifest/file_system.hpp"
#include "sync/feeds.hpp"
#include "sync/log.hpp"
#include "transport/transport.hpp"

namespace exmsync::sync {
namespace fs = boost::filesystem;

bool PushReport::all_ok() const {
    for (const auto& t : targets)
        if (!t.ok) return false;
    return true;
}

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Paths that differ between the manifest recorded at the last push and what
// the target holds now: someone edited the target by hand.
std::vector<std::string> find_drift(transport::Transport& t, const StateLayout& state, const fs::path& actual,
                                    const manifest::Hash128& actual_root) {
    // The usual case, no hand edits, costs one small read.
    auto current = read_current(t, state);
    if (!current || current->root == actual_root || !exists(t, state.manifest(current->apply_id))) return {};
    TempFile recorded;
    copy_to_local(t, state.manifest(current->apply_id), recorded.path());
    manifest::ManifestReader before(recorded.path()), now(actual);
    manifest::DiffOptions plain;
    plain.detect_renames = false;
    std::vector<std::string> drift;
    for (const auto& c : manifest::diff_streams(before, now, plain).changes) drift.push_back(c.path);
    return drift;
}

void check_guards(const TargetResult& r, const manifest::ScanResult& source, const std::string& source_path,
                  const PushOptions& options) {
    std::uint64_t losing = r.changes.deletes + r.changes.rmdirs;
    if (losing > 0 && source.stats.files == 0)
        throw Error("source " + source_path + " holds no files; refusing to delete " + std::to_string(losing) +
                    " entries on " + r.target + " (is the source share mounted?)");
    if (r.changes.deletes > options.max_delete)
        throw Error("push would delete " + std::to_string(r.changes.deletes) + " files on " + r.target +
                    ", more than --max-delete " + std::to_string(options.max_delete) +
                    "; check the source, or raise --max-delete");
}

}  // namespace

std::unique_ptr<PushSource> PushSource::open(const std::string& source, const PushOptions& options) {
    boost::system::error_code ec;
    if (!fs::is_directory(source, ec))
        throw Error("source " + source + " is not a folder; check the path (is the share mounted?)");
    auto s = std::make_unique<PushSource>();
    s->root = fs::absolute(source);
    s->manifest = std::make_unique<TempFile>();
    SnapshotOptions scan = options.scan;
    scan.record_symlinks = false;
    s->scan = scan_folder(s->root, scan, s->manifest->path());
    return s;
}

TargetResult push_to(transport::Transport& target, const std::string& name, const PushSource& source,
                     const PushOptions& options) {
    TargetResult r;
    r.target = name;
    auto local = target.local_path();
    if (!local) throw Error("target " + name + ": only folders and mounted shares can be pushed to by this build");

    // An interrupted apply is finished (or undone) before the target is
    // scanned, so the plan starts from what the target really holds.
    auto start = std::chrono::steady_clock::now();
    recover(target, options.state, false);
    TempFile actual;
    SnapshotOptions scan = options.scan;
    scan.use_cache = true;
    scan.cache_file.reset();  // each target keeps its own cache in its state folder
    auto scanned = scan_folder(*local, scan, actual.path());
    log::info("{}: scanned {} files ({} hashed) in {:.2f} s", name, scanned.stats.files, scanned.stats.hashed_files,
              seconds_since(start));
    r.drift = find_drift(target, options.state, actual.path(), scanned.root);
    log::debug("{}: drift check done at {:.2f} s", name, seconds_since(start));

    manifest::ManifestReader target_stream(actual.path()), source_stream(source.manifest->path());
    auto diff = manifest::diff_streams(target_stream, source_stream);
    auto mtime_of = [&](const std::string& path) { return manifest::stat_path(source.root / path).mtime_ns; };
    r.changeset = plan_changeset(diff, mtime_of, options.plan);
    r.changes = count_changes(r.changeset);
    if (r.changeset.empty()) {
        r.ok = r.already_in_sync = true;
        return r;
    }
    check_guards(r, source.scan, source.root.string(), options);
    // With deletes the target ends up holding exactly the source's manifest;
    // without, it is worked out from the target's and the changeset.
    TempFile after;
    fs::path after_manifest = source.manifest->path();
    if (!options.plan.deletes) {
        manifest::ManifestReader base(actual.path());
        manifest_after(base, r.changeset, after.path());
        after_manifest = after.path();
    }
    log::debug("{}: planned at {:.2f} s", name, seconds_since(start));
    if (options.dry_run) {
        r.ok = true;
        return r;
    }
    auto source_tree = transport::open_transport(source.root.string());  // one per target: one thread each
    TreeFeed feed(*source_tree, r.changeset, after_manifest);
    ApplyOptions apply;
    apply.state = options.state;
    apply.kind = "push";
    auto applying = std::chrono::steady_clock::now();
    r.apply_id = apply_changeset(target, r.changeset, feed, apply).apply_id;
    log::info("{}: applied {} operations in {:.2f} s", name, r.changeset.ops.size(), seconds_since(applying));
    r.ok = true;
    return r;
}

namespace {

TargetResult push_target(const std::string& url, const PushSource& source, const PushOptions& options) {
    std::string name = transport::redact_url(url);
    try {
        transport::OpenOptions open;
        open.flush_each_file = false;  // one flush for the whole staging instead of one per file
        auto target = transport::open_transport(url, open);
        return push_to(*target, name, source, options);
    } catch (const std::exception& e) {
        TargetResult r;
        r.target = name;
        r.ok = false;
        r.error = e.what();
        return r;
    }
}

}  // namespace

PushReport push(const std::string& source, const std::vector<std::string>& targets, const PushOptions& options,
                const TargetDone& on_done) {
    PushReport report;
    auto start = std::chrono::steady_clock::now();
    auto src = PushSource::open(source, options);
    report.source = src->scan;
    log::info("source {}: scanned {} files ({} hashed) in {:.2f} s", source, src->scan.stats.files,
              src->scan.stats.hashed_files, seconds_since(start));
    for (const auto& w : report.source.warnings) log::warn("{}: {}", source, w);

    // Targets are independent: a pool of workers takes them in turn, and the
    // results keep the order the targets were given in.
    report.targets.resize(targets.size());
    std::atomic<std::size_t> next{0};
    std::mutex done_mutex;
    auto worker = [&] {
        for (std::size_t i = next++; i < targets.size(); i = next++) {
            TargetResult r = push_target(targets[i], *src, options);
            std::lock_guard lock(done_mutex);
            if (on_done) on_done(i, r);
            report.targets[i] = std::move(r);
        }
    };
    unsigned workers = options.parallel ? options.parallel : std::max(1u, std::thread::hardware_concurrency());
    workers = static_cast<unsigned>(std::min<std::size_t>(workers, targets.size()));
    std::vector<std::thread> pool;
    for (unsigned w = 1; w < workers; ++w) pool.emplace_back(worker);
    worker();
    for (auto& t : pool) t.join();
    return report;
}

}  // namespace exmsync::sync
