#include "sync/push.hpp"

#include <atomic>
#include <boost/filesystem/operations.hpp>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>

#include "manifest/diff.hpp"
#include "manifest/escape.hpp"
#include "manifest/file_system.hpp"
#include "sync/feeds.hpp"
#include "sync/log.hpp"
#include "sync/shared_work.hpp"
#include "sync/target.hpp"

namespace exmsync::sync {
namespace fs = boost::filesystem;

bool PushReport::all_ok() const {
    for (const auto& t : targets)
        if (!t.ok) return false;
    return true;
}

namespace {

class OverlapError : public UsageError {
public:
    using UsageError::UsageError;
    const char* code() const override { return "overlap"; }
};

class UnportableNames : public UsageError {
public:
    using UsageError::UsageError;
    const char* code() const override { return "unportable-names"; }
};

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string show(const std::string& path) { return "'" + manifest::escape_path(path) + "'"; }

// ---- which folders are which ----

struct FolderId {
    std::uint64_t device = 0, inode = 0;
    bool operator==(const FolderId&) const = default;
};

// A folder and every folder above it, by identity: names can differ (a
// symlink, a bind mount, "..") where the folders are the same.
std::vector<FolderId> identity_chain(const fs::path& folder) {
    std::vector<FolderId> chain;
    boost::system::error_code ec;
    fs::path at = fs::canonical(folder, ec);
    if (ec) return chain;
    while (true) {
        auto st = manifest::stat_if_exists(at);
        if (!st) break;
        chain.push_back({st->device, st->inode});
        if (!at.has_parent_path() || at.parent_path() == at) break;
        at = at.parent_path();
    }
    return chain;
}

bool holds(const std::vector<FolderId>& chain, const FolderId& id) {
    return std::find(chain.begin(), chain.end(), id) != chain.end();
}

// Refuses, before anything is scanned, targets that are the source, hold it
// or lie inside it, and targets listed twice. Local folders are compared by
// identity; a remote target by its URL (the same server and path, written
// the same way).
void check_overlaps(const fs::path& source, const std::vector<std::string>& targets) {
    auto source_chain = identity_chain(source);
    std::vector<std::pair<FolderId, std::string>> seen;
    std::vector<std::string> remote;
    for (const auto& url : targets) {
        std::optional<fs::path> local;
        try {
            local = transport::local_location(url);
        } catch (const std::exception&) {
            continue;  // unreachable: reported for that target alone
        }
        if (!local) {
            std::string name = transport::redact_url(url);
            if (std::find(remote.begin(), remote.end(), name) != remote.end())
                throw OverlapError("target " + name + " is listed twice; give each target once");
            remote.push_back(name);
            continue;
        }
        auto chain = identity_chain(*local);
        if (chain.empty() || source_chain.empty()) continue;
        std::string name = transport::redact_url(url);
        if (chain.front() == source_chain.front())
            throw OverlapError("target " + name + " is the source itself; give the folder of another server");
        if (holds(source_chain, chain.front()))
            throw OverlapError("target " + name + " holds the source " + source.string() +
                               "; a push would move the source into the target's backup: give a target outside it");
        if (holds(chain, source_chain.front()))
            throw OverlapError("target " + name + " lies inside the source " + source.string() +
                               "; every push would copy the target into itself: give a target outside the source, "
                               "or exclude it");
        for (const auto& [id, other] : seen)
            if (id == chain.front())
                throw OverlapError("target " + name + " is listed twice" +
                                   (other == name ? "" : " (also as " + other + ")") + "; give each target once");
        seen.emplace_back(chain.front(), name);
    }
}

void check_guards(const TargetResult& r, const PushSource& source, const PushOptions& options) {
    std::uint64_t losing = r.changes.deletes + r.changes.rmdirs;
    if (losing > 0 && source.scan.stats.files == 0)
        throw GuardError("source " + source.root.string() + " holds no files; refusing to delete " +
                         std::to_string(losing) + " entries on " + r.target + " (is the source share mounted?)");
    if (r.changes.deletes > options.max_delete)
        throw GuardError("push would delete " + std::to_string(r.changes.deletes) + " files on " + r.target +
                         ", more than --max-delete " + std::to_string(options.max_delete) +
                         "; check the source, or raise --max-delete");
}

std::unique_ptr<Plan> plan_for(const fs::path& target_manifest, const fs::path& hidden, const PushSource& source,
                               const PushOptions& options) {
    PlanInput input{target_manifest, source.manifest->path(), hidden,
                    [&](const std::string& path) { return manifest::stat_path(source.root / path).mtime_ns; },
                    options.filter};
    return make_plan(input, options.plan);
}

void note_kept(TargetResult& r, const Plan& plan) {
    for (const auto& folder : plan.kept)
        r.notes.push_back("kept " + show(folder) + ": it holds files outside the sync set");
    if (plan.kept_count > plan.kept.size())
        r.notes.push_back("kept " + std::to_string(plan.kept_count - plan.kept.size()) +
                          " more folders that hold files outside the sync set");
}

void note_mode(TargetResult& r, const Target& target) {
    r.mode = target.mode();
    if (!target.mode_reason().empty()) r.notes.push_back(target.mode_reason());
}

// What a push would do, without a lock, a recovery or a write on the target.
TargetResult preview(Target& target, const std::string& name, const PushSource& source, const PushOptions& options) {
    TargetResult r;
    r.target = name;
    note_mode(r, target);
    auto peeked = target.peek(options.filter);
    if (peeked.pending_journal)
        r.notes.push_back("an interrupted apply is pending; the push finishes or undoes it first, which may change "
                          "what it then does");
    TempFile actual, hidden;
    target.fetch_manifest(actual.path(), hidden.path());
    auto plan = plan_for(actual.path(), hidden.path(), source, options);
    r.changes = plan->header.counts;
    note_kept(r, *plan);
    r.already_in_sync = plan->header.empty();
    if (!r.already_in_sync) check_guards(r, source, options);
    r.plan = std::move(plan);
    r.traffic = target.traffic();
    r.ok = true;
    return r;
}

// How a push scans its source: with its cache, without symlinks (never pushed).
SnapshotOptions source_scan_options(const PushOptions& options) {
    SnapshotOptions scan;
    scan.filter = options.filter;
    scan.use_cache = options.use_cache;
    scan.cache_file = options.cache_file;
    scan.record_symlinks = false;
    return scan;
}

void check_source_folder(const std::string& source) {
    boost::system::error_code ec;
    if (!fs::is_directory(source, ec))
        throw UnreachableError("source " + source + " is not a folder; check the path (is the share mounted?)");
}

}  // namespace

PushSource::PushSource() = default;
PushSource::~PushSource() = default;

std::unique_ptr<PushSource> PushSource::open(const std::string& source, const PushOptions& options) {
    check_source_folder(source);
    auto s = std::make_unique<PushSource>();
    s->root = fs::absolute(source);
    s->manifest = std::make_unique<TempFile>();
    const SnapshotOptions scan = source_scan_options(options);
    s->scan = scan_folder(s->root, scan, s->manifest->path());
    remember_scanned_root(s->root, scan, s->scan.root);
    if (options.plan.portable && s->scan.name_problem_count > 0) {
        std::string list;
        for (const auto& p : s->scan.name_problems) list += "\n  " + p;
        if (s->scan.name_problem_count > s->scan.name_problems.size())
            list += "\n  and " + std::to_string(s->scan.name_problem_count - s->scan.name_problems.size()) + " more";
        throw UnportableNames("source " + source + " holds " + std::to_string(s->scan.name_problem_count) +
                              " name(s) a Windows or SMB target would refuse or merge; nothing was pushed:" + list +
                              "\nrename them in the source, or pass --allow-unportable-names if every target is Linux");
    }
    return s;
}

TargetResult push_to(Target& target, const std::string& name, const PushSource& source, const PushOptions& options,
                     const std::optional<TargetScan>* early) {
    if (options.dry_run) return preview(target, name, source, options);
    TargetResult r;
    r.target = name;
    note_mode(r, target);
    auto start = std::chrono::steady_clock::now();

    // When the last apply recorded the source's root, most likely nothing
    // changed: check that without the lock and without writing anything (no
    // lock file, no new stat cache). Anything else (a change, drift, a lock,
    // a journal, files the stat cache could not vouch for, which the locked
    // scan will record) goes the full way below. A target checked early,
    // with the source's last root, needs no second look: it is in sync if
    // the source still has that root, and otherwise goes the full way.
    if (!options.target.verify_full) {
        const bool checked_early = early && *early;
        auto peeked = checked_early ? **early : target.peek_if_settled(source.scan.root, options.filter);
        if (peeked && peeked->settled && peeked->scan.root == source.scan.root && peeked->scan.stats.hashed_files == 0) {
            if (checked_early) log::info("{}: in sync, checked early against the source's last root", name);
            else log::info("{}: in sync, checked in {:.2f} s", name, seconds_since(start));
            r.ok = r.already_in_sync = true;
            r.traffic = target.traffic();
            return r;
        }
    }

    // The lock is held from before the scan to after the commit, so the plan
    // starts from what the target really holds and nothing changes under it.
    // A lock left by a run that is provably gone is taken over, after its
    // work is finished or undone, as recover would.
    auto recovered = target.open(true).notes;
    r.notes.insert(r.notes.end(), recovered.begin(), recovered.end());
    auto scanned = target.scan(options.filter);
    log::info("{}: scanned {} files ({} hashed) in {:.2f} s", name, scanned.scan.stats.files,
              scanned.scan.stats.hashed_files, seconds_since(start));
    r.drift = scanned.drift;
    r.drift_count = scanned.drift_count;
    // The same root is the same entries: nothing to plan, nothing to fetch
    // (for the agent, the whole no-op check is this comparison).
    if (scanned.scan.root == source.scan.root) {
        target.close();
        r.ok = r.already_in_sync = true;
        r.traffic = target.traffic();
        return r;
    }

    TempFile actual, hidden;
    target.fetch_manifest(actual.path(), hidden.path());
    std::string shared_key;
    std::shared_ptr<Plan> plan;
    if (source.shared) {
        shared_key = SharedWork::key(scanned.scan.root, hidden.path());
        plan = source.shared->plan(shared_key, [&] { return plan_for(actual.path(), hidden.path(), source, options); });
    } else {
        plan = plan_for(actual.path(), hidden.path(), source, options);
    }
    r.changes = plan->header.counts;
    r.plan = plan;
    note_kept(r, *plan);
    log::debug("{}: planned at {:.2f} s", name, seconds_since(start));
    if (plan->header.empty()) {
        target.close();
        r.ok = r.already_in_sync = true;
        r.traffic = target.traffic();
        return r;
    }
    check_guards(r, source, options);

    ApplyOptions apply;
    apply.kind = "push";
    apply.before_commit = options.before_commit;
    auto applying = std::chrono::steady_clock::now();
    if (source.shared && target.takes_archives()) {
        r.apply_id = target.apply_packed(source.shared->packed(shared_key, plan), apply).apply_id;
    } else {
        auto source_tree = transport::open_transport(source.root.string());  // one per target: one thread each
        Changeset changeset{plan->header, plan->ops.path()};
        TreeFeed feed(*source_tree, changeset, plan->new_manifest.path());
        r.apply_id = target.apply(changeset, feed, apply).apply_id;
    }
    target.close();
    log::info("{}: applied {} operations in {:.2f} s", name, plan->header.counts.ops(), seconds_since(applying));
    r.traffic = target.traffic();
    r.ok = true;
    return r;
}

TargetResult push_to(transport::Transport& target, const std::string& name, const PushSource& source,
                     const PushOptions& options) {
    DirectTarget direct(target);
    return push_to(direct, name, source, options);
}

namespace {

TargetResult failed(const std::string& name, const std::exception& e) {
    TargetResult r;
    r.target = name;
    r.ok = false;
    r.error = e.what();
    r.error_code = error_code(e);
    return r;
}

}  // namespace

// A remote target mostly waits, on round trips and on the server's own disk
// and CPU, so serving more at once than this machine has cores costs it
// little: on 2 cores, 4 in-sync ssh:// targets were checked 4 at once in 20%
// less time than 2 at once, for the same CPU.
unsigned default_parallel(const std::vector<std::string>& targets) {
    unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    for (const auto& t : targets) {
        try {
            if (!transport::local_location(t)) return std::max(cores, kRemoteWorkers);
        } catch (const std::exception&) {
            // unreachable: reported for that target alone
        }
    }
    return cores;
}

PushReport push(const std::string& source, const std::vector<std::string>& targets, const PushOptions& options,
                const TargetDone& on_done) {
    PushReport report;
    report.source = source;
    check_overlaps(source, targets);
    check_source_folder(source);  // the common failure, before any target is reached
    auto start = std::chrono::steady_clock::now();

    // Targets are independent: a pool of workers takes them in turn, and the
    // results keep the order the targets were given in. Each worker reaches
    // its target (an SSH handshake, an agent starting on the server) while
    // the source is still being scanned, then waits for the scan: reaching a
    // target scans nothing and writes nothing there.
    std::optional<manifest::Hash128> guess;
    if (!options.dry_run && !options.target.verify_full)
        guess = last_scanned_root(fs::absolute(source), source_scan_options(options));
    std::promise<std::shared_ptr<const PushSource>> scanned;
    std::shared_future<std::shared_ptr<const PushSource>> src = scanned.get_future().share();
    report.targets.resize(targets.size());
    std::atomic<std::size_t> next{0};
    std::mutex done_mutex;
    auto worker = [&] {
        for (std::size_t i = next++; i < targets.size(); i = next++) {
            const std::string name = transport::redact_url(targets[i]);
            TargetResult r;
            std::unique_ptr<Target> target;
            std::optional<TargetScan> early;
            try {
                target = open_target(targets[i], options.target);
            } catch (const std::exception& e) {
                r = failed(name, e);
            }
            // A scheduled push mostly finds nothing changed: a target settled
            // at the root the source had last time is checked now, while the
            // source is still being scanned, instead of after it (unless the
            // scan is done and found another root: no use looking then).
            if (target && guess) {
                bool moved = false;
                if (src.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
                    try {
                        moved = src.get()->scan.root != *guess;
                    } catch (const std::exception&) {
                        moved = true;  // the source scan failed: the push fails below
                    }
                }
                try {
                    if (!moved) early = target->peek_if_settled(*guess, options.filter);
                } catch (const std::exception&) {
                    // push_to asks again, and reports what goes wrong then
                }
            }
            std::shared_ptr<const PushSource> source_scan;
            try {
                source_scan = src.get();
            } catch (const std::exception&) {
                return;  // the push as a whole fails; push() rethrows it
            }
            if (target) {
                try {
                    r = push_to(*target, name, *source_scan, options, guess ? &early : nullptr);
                } catch (const std::exception& e) {
                    r = failed(name, e);
                }
            }
            target.reset();  // closed before it is reported
            std::lock_guard lock(done_mutex);
            if (on_done) on_done(i, r);
            report.targets[i] = std::move(r);
        }
    };
    unsigned workers = options.parallel ? options.parallel : default_parallel(targets);
    workers = static_cast<unsigned>(std::min<std::size_t>(workers, targets.size()));
    std::vector<std::thread> pool;
    for (unsigned w = 0; w < workers; ++w) pool.emplace_back(worker);
    try {
        std::unique_ptr<PushSource> opened = PushSource::open(source, options);
        if (targets.size() > 1) opened->shared = std::make_unique<SharedWork>(opened->root);
        report.source_scan = opened->scan;
        log::info("source {}: scanned {} files ({} hashed) in {:.2f} s", source, opened->scan.stats.files,
                  opened->scan.stats.hashed_files, seconds_since(start));
        scanned.set_value(std::move(opened));
    } catch (...) {
        scanned.set_exception(std::current_exception());
        for (auto& t : pool) t.join();
        throw;
    }
    for (auto& t : pool) t.join();
    return report;
}

}  // namespace exmsync::sync
