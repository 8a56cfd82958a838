// The apply protocol (see apply.hpp for the eight steps). Every step goes
// through the Transport interface, so a fault-injecting transport can stop it
// after any operation, and recovery must then bring the target to the old or
// the new state, never a mix.
#include "sync/apply.hpp"

#include <boost/filesystem/operations.hpp>
#include <chrono>

#include "manifest/escape.hpp"
#include "manifest/format.hpp"
#include "manifest/stat_cache.hpp"
#include "sync/archive.hpp"
#include "sync/drift.hpp"
#include "sync/journal.hpp"
#include "sync/log.hpp"
#include "platform/process.hpp"
#include "sync/rollback.hpp"
#include "sync/stager.hpp"
#include "sync/touches.hpp"
#include "sync/transport_tree.hpp"

namespace exmsync::sync {
namespace {

std::string show(const std::string& path) { return "'" + manifest::escape_path(path) + "'"; }

// Time spent per phase, for -vv.
class Stopwatch {
public:
    void lap(const char* phase) {
        auto now = std::chrono::steady_clock::now();
        text_ += (text_.empty() ? "" : ", ") + std::string(phase) + " " +
                 std::to_string(std::chrono::duration<double>(now - last_).count()).substr(0, 5) + " s";
        last_ = now;
    }
    const std::string& text() const { return text_; }

private:
    std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
    std::string text_;
};

// ---- steps 4 and 8: what goes to history ----

// The records an apply leaves in history wait in its staging folder until
// the commit is done, so that a finished commit can always record itself.
void stage_records(StateFolder& state, const std::string& apply_id, const Changeset& cs,
                   const boost::filesystem::path& base_manifest, const ApplyOptions& options) {
    const std::string dir = layout::staging(apply_id);
    HistoryRecord record{apply_id, options.kind, platform::utc_now(), platform::host_name(), cs.header,
                         options.drift_count};
    state.write_new(dir + "/record.json", encode_record(record));
    // The marker that turns the journal around, made now: on a full disk a
    // commit must still be able to switch to undo, and a rename needs no
    // room where a new file would.
    state.write_new(dir + "/undo", apply_id + "\n");
    state.copy_in(cs.ops, dir + "/ops", transport::Flush::Deferred);
    if (options.drift) state.copy_in(*options.drift, dir + "/drift", transport::Flush::Deferred);
    if (!History(state).empty()) return;
    // The first apply also records how the target was kept by hand.
    ChangesetHeader before;
    before.base_root = before.new_root = cs.header.base_root;
    before.filter = cs.header.filter;
    before.ops_hash = manifest::hash_bytes("");
    HistoryRecord initial{kInitialApply, "initial", record.applied_at, record.host, before, 0};
    state.write_new(dir + "/initial.json", encode_record(initial));
    state.copy_in(base_manifest, dir + "/initial.manifest", transport::Flush::Deferred);
}

void finalize(StateFolder& state, const std::string& apply_id, unsigned keep_backups) {
    const std::string dir = layout::staging(apply_id);
    state.make_folders(layout::kHistory);
    state.move_if_present(dir + "/initial.json", layout::record(kInitialApply));
    state.move_if_present(dir + "/initial.manifest", layout::history_file(kInitialApply, "manifest"));
    for (const char* ext : {"ops", "manifest", "drift"})
        state.move_if_present(dir + "/" + ext, layout::history_file(apply_id, ext));
    state.move_if_present(dir + "/record.json", layout::record(apply_id));
    auto& t = state.transport();
    t.flush_dir(layout::kHistory);
    HistoryRecord record = decode_record(state.read_small(layout::record(apply_id)), layout::record(apply_id));
    History history(state);
    auto current = history.current_file();
    if (!current || current->apply_id != apply_id) history.write_current({apply_id, record.header.new_root});
    // The journal goes only after history and current are durable, and the
    // staging folder only after the journal: while the journal exists, a
    // recovery redoes the commit and needs what staging holds.
    t.remove(layout::kJournal);
    t.flush_dir(layout::kDir);
    state.remove_tree(dir);
    try {
        history.prune(keep_backups);
    } catch (const std::exception& e) {
        log::warn("{}: could not prune old backups ({}); the next apply tries again", state.describe(), e.what());
    }
}

// A new stat cache in place of the old one. A cache is never relied on
// beyond its key, so it is replaced without a flush.
void replace_stat_cache(StateFolder& state, const boost::filesystem::path& local) {
    auto& t = state.transport();
    const std::string fresh = layout::kStatCache + ".new";
    if (state.exists(fresh)) t.remove(fresh);
    state.copy_in(local, fresh, transport::Flush::Deferred);
    if (state.exists(layout::kStatCache)) t.remove(layout::kStatCache);
    t.rename(fresh, layout::kStatCache);
}

// Over a backend without file identity (SMB, SFTP) the stat cache keys a
// file by size and mtime alone, and an apply knows both for every file it
// wrote: it set the mtime itself, which the backend keeps to its
// resolution. Recording them spares the next scan reading those files back
// over the network to hash them, and lets the next no-op push be checked
// without the lock. The rest of the cache is the locked scan's, kept but
// for the paths the apply touched.
void record_written(StateFolder& state, const boost::filesystem::path& touches, std::int64_t resolution_ns) {
    manifest::TempFile old_cache, fresh;
    if (state.exists(layout::kStatCache)) state.copy_out(layout::kStatCache, old_cache.path());
    manifest::StatCacheReader cached(old_cache.path());
    manifest::StatCacheWriter out(fresh.path());
    const std::int64_t now = manifest::now_ns();
    const std::int64_t step = std::max<std::int64_t>(1, resolution_ns);
    TouchReader touched(touches);
    Touch touch;
    bool more_touches = touched.next(touch);
    std::string path;
    manifest::FileStat st;
    manifest::Hash128 hash;
    bool more_cached = cached.next(path, st, hash);
    while (more_touches || more_cached) {
        int order = !more_touches ? -1 : !more_cached ? 1 : manifest::compare_paths(path, touch.path);
        if (order < 0) {
            out.add(path, st, hash);
            more_cached = cached.next(path, st, hash);
            continue;
        }
        if (order == 0) more_cached = cached.next(path, st, hash);  // what it held before the apply
        // Only content the apply wrote itself: a file renamed into place
        // holds what was there, which a hand edit during the push could
        // have changed under the hash the changeset expects.
        if (touch.make == Touch::Make::Write) {
            manifest::FileStat written;
            written.kind = manifest::FileKind::File;
            written.size = touch.size;
            written.mtime_ns = touch.mtime_ns - ((touch.mtime_ns % step) + step) % step;
            // Racily clean (a source file edited within the window) is left
            // for the next scan to hash, as a scan would leave it.
            if (manifest::is_cacheable(written, now)) out.add(touch.path, written, touch.hash);
        }
        more_touches = touched.next(touch);
    }
    out.commit();
    replace_stat_cache(state, fresh.path());
}

// ---- step 7: commit, and undo when the target refuses ----

void drop_journal(StateFolder& state, const std::string& apply_id) {
    auto& t = state.transport();
    t.remove(layout::kJournal);
    t.flush_dir(layout::kDir);
    if (state.exists(layout::kUndo)) t.remove(layout::kUndo);
    state.remove_tree(layout::staging(apply_id));
    state.remove_tree(layout::backup(apply_id));
}

[[noreturn]] void blocked(StateFolder& state, const std::string& apply_id, const StepFailed* forward,
                          const StepFailed& back) {
    std::string stopped = forward ? " stopped at " + show(forward->path()) + " (" + forward->what() + ") and" : "";
    throw BlockedError(state.where() + ": the commit of " + apply_id + stopped + " cannot be undone at " +
                       show(back.path()) + ": " + back.what() + "; the target stays locked with its journal until " +
                       "that is fixed and 'exmsync recover " + state.describe() + "' is run");
}

// Switches the journal to undo (durably, before the first step back), takes
// the commit back and drops the journal. Throws BlockedError when a step
// cannot be taken back.
void undo(StateFolder& state, Commit& commit, const std::string& apply_id, const StepFailed* cause) {
    if (!state.exists(layout::kUndo)) {
        const std::string reserved = layout::staging(apply_id) + "/undo";
        if (state.exists(reserved)) state.transport().rename(reserved, layout::kUndo);
        else state.write_new(layout::kUndo, apply_id + "\n");
        state.transport().flush_dir(layout::kDir);
    }
    try {
        commit.undo();
        commit.flush();
    } catch (const StepFailed& back) {
        blocked(state, apply_id, cause, back);
    }
    drop_journal(state, apply_id);
}

const std::string kJournalDraft = layout::kJournal + ".new";

// The journal is written whole and flushed under a name of its own; renaming
// it into place is the moment the commit can no longer simply be dropped.
void write_journal_draft(StateFolder& state, const boost::filesystem::path& journal) {
    if (state.exists(kJournalDraft)) state.transport().remove(kJournalDraft);
    state.copy_in(journal, kJournalDraft, transport::Flush::Now);
}

// ---- step 2: recovery ----

void clear_leftovers(StateFolder& state, RecoverReport& report) {
    auto& t = state.transport();
    if (state.exists(kJournalDraft)) t.remove(kJournalDraft);  // its commit never began
    if (state.exists(layout::kUndo)) t.remove(layout::kUndo);
    if (state.exists(layout::kStaging))
        for (const auto& child : t.list(layout::kStaging)) {
            state.remove_tree(layout::kStaging + "/" + child.name);
            ++report.staging_removed;
        }
    // A backup folder without a history record belongs to an apply that was
    // refused or undone before it could record itself.
    if (state.exists(layout::kBackup))
        for (const auto& child : t.list(layout::kBackup))
            if (!state.exists(layout::record(child.name))) {
                state.remove_tree(layout::backup(child.name));
                ++report.backups_removed;
            }
}

RecoverReport recover_locked(StateFolder& state, unsigned keep_backups) {
    RecoverReport report;
    if (state.exists(layout::kJournal)) {
        manifest::TempFile local;
        state.copy_out(layout::kJournal, local.path());
        auto journal = Journal::load(local.path(), state.describe() + "/" + layout::kJournal);
        if (!journal) {
            state.transport().remove(layout::kJournal);
            state.transport().flush_dir(layout::kDir);
            report.discarded_journal = true;
            report.notes.push_back("discarded a journal that was cut before its commit began");
        } else {
            const std::string& id = journal->apply_id();
            Commit commit(state, *journal);
            if (state.exists(layout::record(id))) {
                // Its record reached history, which happens only once the
                // commit is complete and flushed: only the recording is left.
                finalize(state, id, keep_backups);
                report.finished_apply = id;
                report.notes.push_back("finished recording apply " + id);
            } else if (state.exists(layout::kUndo)) {
                undo(state, commit, id, nullptr);
                report.undone_apply = id;
                report.notes.push_back("finished undoing apply " + id + "; the target is as it was before it");
            } else {
                try {
                    commit.resume();
                    commit.flush();
                    finalize(state, id, keep_backups);
                    report.finished_apply = id;
                    report.notes.push_back("finished the interrupted commit of apply " + id);
                } catch (const StepFailed& forward) {
                    undo(state, commit, id, &forward);
                    report.undone_apply = id;
                    report.notes.push_back("could not finish apply " + id + " (" + show(forward.path()) + ": " +
                                           forward.what() + "), so undid it; the target is as it was before it");
                }
            }
        }
    }
    clear_leftovers(state, report);
    History history(state);
    auto current = history.current(&report.repaired_current);
    if (report.repaired_current) {
        history.write_current(*current);
        report.notes.push_back("rebuilt " + layout::kCurrent + ", which a crash had left missing or damaged");
    }
    return report;
}

}  // namespace

bool RecoverReport::nothing_done() const {
    return !broke_stale_lock && finished_apply.empty() && undone_apply.empty() && !discarded_journal &&
           staging_removed == 0 && backups_removed == 0 && !repaired_current;
}

struct DirectTarget::Scanned {
    FilterSpec filter;
    manifest::TempFile manifest, hidden;
    std::unique_ptr<Drift> drift;  // null for a peek
};

DirectTarget::DirectTarget(transport::Transport& target) : t_(target), state_(target) {}

DirectTarget::DirectTarget(std::unique_ptr<transport::Transport> target, std::string mode, std::string reason)
    : owned_(std::move(target)), t_(*owned_), mode_(std::move(mode)), reason_(std::move(reason)), state_(t_) {}

DirectTarget::~DirectTarget() = default;

TargetScan DirectTarget::scan(const FilterSpec& filter) {
    auto s = std::make_unique<Scanned>();
    s->filter = filter;
    TargetScan result;
    result.scan = scan(filter, s->manifest.path(), s->hidden.path());
    s->drift = find_drift(state_, filter, s->manifest.path(), result.scan.root);
    result.drift = s->drift->shown;
    result.drift_count = s->drift->count;
    scanned_ = std::move(s);
    return result;
}

TargetScan DirectTarget::peek(const FilterSpec& filter) {
    auto s = std::make_unique<Scanned>();
    s->filter = filter;
    TargetScan result;
    result.pending_journal = state_.exists(layout::kJournal);
    result.scan = peek(filter, s->manifest.path(), s->hidden.path());
    // Looked at after the scan: a commit that started during it shows here.
    if (!result.pending_journal) result.settled = settled_root() == result.scan.root;
    scanned_ = std::move(s);
    return result;
}

std::optional<TargetScan> DirectTarget::peek_if_settled(const manifest::Hash128& root, const FilterSpec& filter) {
    if (settled_root() != root) return std::nullopt;
    return peek(filter);
}

std::optional<manifest::Hash128> DirectTarget::settled_root() {
    if (state_.exists(layout::kLock) || state_.exists(layout::kJournal)) return std::nullopt;
    // The stat cache must be written after the last apply (by a scan, or by
    // the apply itself): the files that apply wrote are not in an older one,
    // and a peek would hash them only for the locked scan to hash them
    // again. The same mtime passes: SFTP keeps whole seconds, and a cache
    // that turns out older costs that time, never a wrong answer.
    auto cache = t_.stat(layout::kStatCache), recorded = t_.stat(layout::kCurrent);
    if (!cache || !recorded || cache->mtime_ns < recorded->mtime_ns) return std::nullopt;
    auto current = History(state_).current_file();
    if (!current) return std::nullopt;
    return current->root;
}

void DirectTarget::fetch_manifest(const boost::filesystem::path& manifest, const boost::filesystem::path& hidden) {
    if (!scanned_) throw Error("internal: the manifest of " + t_.describe() + " before a scan");
    boost::filesystem::copy_file(scanned_->manifest.path(), manifest, boost::filesystem::copy_options::overwrite_existing);
    boost::filesystem::copy_file(scanned_->hidden.path(), hidden, boost::filesystem::copy_options::overwrite_existing);
}

ApplyReport DirectTarget::apply(const Changeset& changeset, ContentFeed& content, const ApplyOptions& options) {
    // The plan was made from a scan under the push's filter; an archive may
    // carry another, and its base check must see what that filter sees.
    if (!scanned_ || !scanned_->drift || !(scanned_->filter == changeset.header.filter)) scan(changeset.header.filter);
    ApplyOptions with_drift = options;
    if (!with_drift.drift && scanned_->drift->count > 0) {
        with_drift.drift = scanned_->drift->file.path();
        with_drift.drift_count = scanned_->drift->count;
    }
    return apply(changeset, content, scanned_->manifest.path(), with_drift);
}

ApplyReport DirectTarget::apply_archive(const std::string& file, const ApplyOptions& options) {
    ArchiveReader archive(file);
    return apply(archive.changeset(), archive, options);
}

std::vector<HistoryEntry> DirectTarget::history() {
    History history(state_);
    auto current = history.current();
    auto listed = history.listing();
    std::vector<HistoryEntry> entries;
    for (std::size_t i = 0; i < listed.records.size(); ++i) {
        HistoryEntry e;
        e.current = current && current->apply_id == listed.records[i].apply_id;
        e.rollback_possible = listed.rollback_possible[i];
        e.record = std::move(listed.records[i]);
        entries.push_back(std::move(e));
    }
    return entries;
}

RollbackReport DirectTarget::rollback(const std::string& to, const RollbackOptions& options) {
    return sync::rollback(t_, to, options);
}

RecoverReport DirectTarget::open(bool break_stale_lock) {
    lock_ = std::make_unique<TargetLock>(state_, break_stale_lock);
    try {
        RecoverReport report = recover_locked(state_, ApplyOptions{}.keep_backups);
        report.broke_stale_lock = lock_->broke_stale_lock();
        if (report.broke_stale_lock)
            report.notes.insert(report.notes.begin(), "removed a stale lock from " + lock_->stale_owner().text());
        return report;
    } catch (const BlockedError&) {
        lock_->abandon();
        lock_.reset();
        throw;
    }
}

void DirectTarget::close() {
    if (lock_) lock_->release();
    lock_.reset();
}

manifest::ScanResult DirectTarget::peek(const FilterSpec& filter, const boost::filesystem::path& out,
                                        const std::optional<boost::filesystem::path>& hidden) {
    manifest::TempFile cache;
    manifest::ScanOptions scan;
    scan.filter = filter.filter();
    scan.hidden_out = hidden;
    if (!verify_full_ && state_.exists(layout::kStatCache)) {
        state_.copy_out(layout::kStatCache, cache.path());
        scan.cache_in = cache.path();
    }
    manifest::ManifestWriter writer(out);
    auto root = t_.local_path();
    auto tree = root ? manifest::local_tree(*root) : transport_tree(t_);
    return manifest::scan_tree(*tree, scan, writer);
}

manifest::ScanResult DirectTarget::scan(const FilterSpec& filter, const boost::filesystem::path& out,
                                        const std::optional<boost::filesystem::path>& hidden) {
    if (!lock_) throw Error("internal: scan of " + t_.describe() + " without its lock");
    // A local folder is scanned directly, on every core; any other backend
    // through the transport. Either way the stat cache is read and written
    // through the transport: the state
    // folder is never touched by local path.
    manifest::TempFile cache_in, cache_out;
    manifest::ScanOptions scan;
    scan.filter = filter.filter();
    if (!verify_full_ && state_.exists(layout::kStatCache)) {
        state_.copy_out(layout::kStatCache, cache_in.path());
        scan.cache_in = cache_in.path();
    }
    scan.cache_out = cache_out.path();
    scan.hidden_out = hidden;
    manifest::ManifestWriter writer(out);
    auto root = t_.local_path();
    auto tree = root ? manifest::local_tree(*root) : transport_tree(t_);
    auto result = manifest::scan_tree(*tree, scan, writer);
    replace_stat_cache(state_, cache_out.path());
    return result;
}

ApplyReport DirectTarget::apply(const Changeset& cs, ContentFeed& content, const boost::filesystem::path& base_manifest,
                                const ApplyOptions& options) {
    if (!lock_) throw Error("internal: apply to " + t_.describe() + " without its lock");
    ApplyReport report;
    report.changes = cs.header.counts;
    History history(state_);

    // Step 3: the base, by root and then path by path.
    auto root = manifest::ManifestReader(base_manifest).root();
    if (root == cs.header.new_root) {
        auto current = history.current();
        report.already_applied = true;
        report.apply_id = current && current->root == root ? current->apply_id : "";
        return report;
    }
    if (root != cs.header.base_root)
        throw BaseMismatch("target " + t_.describe() + " holds root " + root.hex() + ", but changeset " +
                         cs.header.id() + " was made for root " + cs.header.base_root.hex() +
                         " (an older or a newer state); nothing was changed: diff again and push, or pack a new "
                         "changeset against the target's manifest");
    Stopwatch watch;
    manifest::TempFile touches, journal_file;
    build_touches(cs.ops, cs.header, base_manifest, touches.path(), t_.describe());
    watch.lap("base check");

    // Steps 4 to 6: nothing on the target moves yet; any failure up to the
    // journal's rename into place removes what was staged.
    const std::string apply_id = history.next_id(cs.header);
    auto drop_staging = [&] {
        try {
            if (state_.exists(kJournalDraft)) t_.remove(kJournalDraft);
            state_.remove_tree(layout::staging(apply_id));
            state_.remove_tree(layout::backup(apply_id));
        } catch (...) {
            // Left for the next recover, which clears abandoned staging and orphan backups.
        }
    };
    try {
        stage(state_, {cs.header, cs.ops, touches.path(), base_manifest, apply_id}, content);
        stage_records(state_, apply_id, cs, base_manifest, options);
        t_.flush_all();  // everything staged is durable before the journal can count on it
        watch.lap("staging");
        preflight(state_, apply_id, cs.header, touches.path(), journal_file.path());
        watch.lap("pre-flight");
        write_journal_draft(state_, journal_file.path());
        t_.rename(kJournalDraft, layout::kJournal);  // atomic: there is a journal, or there is none
    } catch (...) {
        drop_staging();
        throw;
    }

    // Step 7: the journal is in place; from here on every failure is finished
    // or undone from it, and staging stays until then.
    auto journal = Journal::load(journal_file.path(), journal_file.path().string());
    Commit commit(state_, *journal);
    try {
        t_.flush_dir(layout::kDir);
        if (options.before_commit) options.before_commit();
        commit.run();
        commit.flush();
    } catch (const StepFailed& failure) {
        try {
            undo(state_, commit, apply_id, &failure);
        } catch (const BlockedError&) {
            lock_->abandon();
            lock_.reset();
            throw;
        }
        throw CommitRefused(state_.where() + ": could not commit apply " + apply_id + " at " + show(failure.path()) +
                            ": " + failure.what() + "; the commit was undone and the target is exactly as it was; " +
                            "push again once that is fixed");
    } catch (const std::exception& e) {
        // Not a refusal the engine could name (the connection dropped, the
        // process is being stopped): the journal stays for recover.
        throw Error(std::string(e.what()) + "; the commit of " + apply_id + " is journaled: run 'exmsync recover " +
                    t_.describe() + "' (or push again) to finish it");
    }
    watch.lap("commit");

    // Step 8.
    try {
        finalize(state_, apply_id, options.keep_backups);
    } catch (const std::exception& e) {
        throw Error(std::string(e.what()) + "; apply " + apply_id + " is committed but not yet recorded: run " +
                    "'exmsync recover " + t_.describe() + "' (or push again) to record it");
    }
    watch.lap("history");
    if (const auto can = t_.capabilities(); !can.file_identity) {
        try {
            record_written(state_, touches.path(), can.mtime_resolution_ns);
        } catch (const std::exception& e) {
            log::warn("{}: could not record the files apply {} wrote in the stat cache ({}); the next scan reads "
                      "them back to hash them", t_.describe(), apply_id, e.what());
        }
        watch.lap("stat cache");
    }
    log::debug("{}: {}", t_.describe(), watch.text());
    report.apply_id = apply_id;
    return report;
}

}  // namespace exmsync::sync
