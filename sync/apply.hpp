// Applying a changeset to a target, all or nothing, under failures as well as
// crashes. The protocol lives in apply.cpp, written once against the
// Transport interface, and reads top to bottom:
//
//   1. lock: exclusive create of the target's lock file;
//   2. recover: finish or undo an interrupted apply, in the direction its
//      journal records;
//   3. base: the target's root, recomputed by a scan, must be the changeset's
//      base root (holding its new root already: "already applied"), and
//      every touched path must be as the changeset expects (touches.hpp);
//   4. stage the new files in the state folder, on the same volume, and
//      check them (stager.hpp);
//   5. pre-flight: every commit step that can be checked is checked before
//      anything moves (preflight.hpp);
//   6. journal: the steps, flushed (journal.hpp);
//   7. commit: old files to the backup, staged files into place, `*.config`
//      last; a step the target refuses switches the journal to undo, and the
//      commit is taken back in reverse to the old root;
//   8. record history and `current`, flushed; drop the journal; unlock.
//
// A crash or a cut connection at any step leaves the target, after the next
// apply or recover, exactly as it was or exactly as the changeset makes it.
// Only when a commit can be neither finished nor undone does the target stay
// locked, with a message naming the blocking path and the command to run.
#pragma once

#include <boost/filesystem/path.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "manifest/scanner.hpp"
#include "sync/changeset.hpp"
#include "sync/content.hpp"
#include "sync/error.hpp"
#include "sync/history.hpp"
#include "sync/lock.hpp"
#include "sync/preflight.hpp"
#include "sync/state.hpp"
#include "sync/target.hpp"
#include "sync/touches.hpp"
#include "transport/transport.hpp"

namespace exmsync::sync {

// The target refused a commit step; the commit was undone and the target is
// exactly as it was.
class CommitRefused : public Error {
public:
    using Error::Error;
    const char* code() const override { return "undone"; }
};

// A commit could be neither finished nor undone: the target stays locked.
class BlockedError : public Error {
public:
    using Error::Error;
    const char* code() const override { return "blocked"; }
};

struct ApplyOptions {
    std::string kind = "apply";  // recorded in history: push, apply, rollback
    unsigned keep_backups = 5;   // applies whose backups are kept for rollback
    // Paths found changed by hand since the last apply (a local list, one
    // "old hash TAB escaped path" per line), kept in history.
    std::optional<boost::filesystem::path> drift;
    std::uint64_t drift_count = 0;
    // Called once the journal is in place, just before the first commit
    // step: the tests change the target there, where no check can see it.
    std::function<void()> before_commit;
};

struct ApplyReport {
    std::string apply_id;  // the apply that left the target at the new root
    bool already_applied = false;
    ChangeCounts changes;
};

struct RecoverReport {
    bool broke_stale_lock = false;
    std::string finished_apply;  // an interrupted commit rolled forward
    std::string undone_apply;    // an interrupted or refused commit taken back
    bool discarded_journal = false;  // a journal cut before its commit began
    std::uint64_t staging_removed = 0;
    std::uint64_t backups_removed = 0;  // orphans of refused applies
    bool repaired_current = false;
    std::vector<std::string> notes;     // what was done, for people
    bool nothing_done() const;
};

struct Drift;

// One target reached directly through a Transport: the apply protocol runs
// here, on this machine, one Transport call at a time.
class DirectTarget : public Target {
public:
    explicit DirectTarget(transport::Transport& target);
    // Owns the transport; `mode` and `reason` as Target describes them.
    DirectTarget(std::unique_ptr<transport::Transport> target, std::string mode, std::string reason = {});
    ~DirectTarget() override;
    DirectTarget(const DirectTarget&) = delete;
    DirectTarget& operator=(const DirectTarget&) = delete;

    std::string mode() const override { return mode_; }
    std::string mode_reason() const override { return reason_; }

    // Steps 1 and 2. Throws LockedError, or BlockedError when an interrupted
    // commit can be neither finished nor undone.
    RecoverReport open(bool break_stale_lock = false) override;
    void close() override;

    TargetScan scan(const FilterSpec& filter) override;
    TargetScan peek(const FilterSpec& filter) override;
    std::optional<TargetScan> peek_if_settled(const manifest::Hash128& root, const FilterSpec& filter) override;
    // The root the last apply recorded, when peek_if_settled() may peek.
    std::optional<manifest::Hash128> settled_root();
    void fetch_manifest(const boost::filesystem::path& manifest, const boost::filesystem::path& hidden) override;
    ApplyReport apply(const Changeset& changeset, ContentFeed& content, const ApplyOptions& options) override;
    ApplyReport apply_archive(const std::string& file, const ApplyOptions& options) override;
    std::vector<HistoryEntry> history() override;
    RollbackReport rollback(const std::string& to, const RollbackOptions& options) override;

    // The steps themselves, for rollback and the tests.

    // The target's manifest with `filter`, written to `out`; the stat cache
    // lives in the state folder. `hidden`: where to list the folders that hold
    // entries outside the sync set. Needs open().
    manifest::ScanResult scan(const FilterSpec& filter, const boost::filesystem::path& out,
                              const std::optional<boost::filesystem::path>& hidden = std::nullopt);

    // The same without a lock and without writing anything: the target's
    // stat cache is read, never updated (dry runs, diff).
    manifest::ScanResult peek(const FilterSpec& filter, const boost::filesystem::path& out,
                              const std::optional<boost::filesystem::path>& hidden = std::nullopt);

    // Steps 3 to 8, for a target opened and scanned into `base_manifest`.
    // Throws DriftError or PreflightError (nothing changed), CommitRefused
    // (undone), BlockedError, or Error.
    ApplyReport apply(const Changeset& changeset, ContentFeed& content, const boost::filesystem::path& base_manifest,
                      const ApplyOptions& options);

    StateFolder& state() { return state_; }

private:
    // The last scan() or peek(): what apply() starts from.
    struct Scanned;

    std::unique_ptr<transport::Transport> owned_;
    transport::Transport& t_;
    std::string mode_ = "local";
    std::string reason_;
    StateFolder state_;
    std::unique_ptr<TargetLock> lock_;
    std::unique_ptr<Scanned> scanned_;
};

}  // namespace exmsync::sync
