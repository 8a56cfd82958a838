// The Target seam: everything push, diff, apply, recover, history and
// rollback do to a target, whatever reaches it.
//
//   DirectTarget (apply.hpp)  the apply protocol runs here, one Transport call
//                             at a time: a local folder, or SFTP when the
//                             server has no exmsync (agentless);
//   AgentTarget (agent/)      an exmsync on the server runs the protocol next
//                             to its files; a no-op check moves one root hash,
//                             a change moves one compressed archive.
//
// open_target() picks: local paths and file:// are direct; ssh:// tries the
// agent first and falls back to SFTP with a note saying why.
#pragma once

#include <boost/filesystem/path.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "manifest/scanner.hpp"
#include "sync/changeset.hpp"
#include "sync/content.hpp"
#include "sync/history.hpp"
#include "transport/transport.hpp"

namespace exmsync::sync {

struct RecoverReport;
struct ApplyOptions;
struct ApplyReport;
struct RollbackOptions;
struct RollbackReport;

// A path changed on the target since the last push, and what it held then.
struct DriftItem {
    std::string path;
    std::optional<manifest::Entry> recorded;  // absent: it was added by hand
};

inline constexpr std::size_t kDriftShown = 50;

struct TargetScan {
    manifest::ScanResult scan;       // root and counts
    std::vector<DriftItem> drift;    // the first kDriftShown paths edited by hand
    std::uint64_t drift_count = 0;
    bool pending_journal = false;    // (peek) an interrupted apply waits for recovery
    // (peek, Direct) No lock and no journal after the scan, and `current`
    // names the root scanned: the target holds what its last apply left.
    bool settled = false;
};

enum class AgentMode {
    Auto,   // ssh://: the agent when the server has a compatible exmsync, else SFTP
    Agent,  // the agent or nothing (--remote-exmsync, --rsh)
    Sftp,   // never the agent (--no-agent)
};

// How targets are reached.
struct TargetOptions {
    transport::OpenOptions open;
    AgentMode mode = AgentMode::Auto;
    std::string remote_exmsync = "exmsync";  // the agent's program on the server
    // A command that reaches the server instead of libssh, as rsync's -e:
    // "ssh -J bastion". It gets [-p PORT] [user@]host and the agent command.
    std::string rsh;
    // Read and hash every file of the target instead of trusting its stat
    // cache (--verify full): for backends whose stat says less than a local
    // disk's (SFTP has no inode or ctime and whole-second mtimes), or for a
    // target suspected of edits that kept size and mtime.
    bool verify_full = false;
};

// One line of a target's history.
struct HistoryEntry {
    HistoryRecord record;
    bool current = false;            // the state the target is in now
    bool rollback_possible = false;  // its backups are all still there
};

// A changeset packed once for several targets (push): the targets that hold
// the same files get the same archive.
struct PackedChangeset {
    ChangesetHeader header;
    boost::filesystem::path after;  // the target's manifest after the apply
    // Writes the archive, in order, into the sink it is given; returns once
    // the last byte is written and the source was found unchanged (as
    // write_archive() does), and throws otherwise.
    std::function<void(const std::function<void(const char*, std::size_t)>&)> write;
};

// Bytes on the wire for one target (the agent's stream; 0 for the others).
struct Traffic {
    std::uint64_t sent = 0;
    std::uint64_t received = 0;
};

class Target {
public:
    virtual ~Target() = default;

    // "local", "sftp", "agent" or "smb".
    virtual std::string mode() const = 0;
    // Why this mode (the agent was missing, ...), for a note; may be empty.
    virtual std::string mode_reason() const { return {}; }

    // Takes the target's lock and finishes or undoes an interrupted apply.
    // Throws LockedError, or BlockedError when that apply can be neither
    // finished nor undone.
    virtual RecoverReport open(bool break_stale_lock) = 0;
    // Releases the lock (nothing when not open).
    virtual void close() = 0;

    // The target's manifest under `filter`, with the paths edited by hand
    // since the last apply. scan() needs open() and keeps the stat cache up
    // to date; peek() takes no lock and writes nothing.
    virtual TargetScan scan(const FilterSpec& filter) = 0;
    virtual TargetScan peek(const FilterSpec& filter) = 0;
    // The no-op check without the lock: when the last apply recorded `root`,
    // the target holds no lock and no journal, and its stat cache was written
    // by a scan since, a peek(); nullopt when any of that is not so (then only
    // the locked scan can tell). Reads only.
    virtual std::optional<TargetScan> peek_if_settled(const manifest::Hash128& root, const FilterSpec& filter) = 0;
    // The manifest of the last scan or peek, and the folders holding entries
    // outside its filter, as local files.
    virtual void fetch_manifest(const boost::filesystem::path& manifest, const boost::filesystem::path& hidden) = 0;

    // Applies `changeset` to the target as it was scanned (scanned again if
    // the changeset's filter differs), all or nothing, recording the drift
    // that scan found. Needs open().
    virtual ApplyReport apply(const Changeset& changeset, ContentFeed& content, const ApplyOptions& options) = 0;
    // The changeset in a packed archive. Needs open().
    virtual ApplyReport apply_archive(const std::string& file, const ApplyOptions& options) = 0;
    // Whether apply() packs the changeset into an archive of its own (the
    // agent). A push to several such targets packs once instead.
    virtual bool takes_archives() const { return false; }
    // The changeset in an archive packed for several targets. Needs open().
    // By default the archive is written to a local file, then applied.
    virtual ApplyReport apply_packed(const PackedChangeset& packed, const ApplyOptions& options);

    // Oldest first.
    virtual std::vector<HistoryEntry> history() = 0;
    // Takes and releases the lock itself (none for a dry run).
    virtual RollbackReport rollback(const std::string& to, const RollbackOptions& options) = 0;

    virtual Traffic traffic() const { return {}; }

    // See TargetOptions::verify_full; open_target() sets it.
    void verify_full(bool on) { verify_full_ = on; }

protected:
    bool verify_full_ = false;
};

// Opens the target at `location` (a folder, file:// or ssh:// URL), choosing
// the mode as described above. Throws UnreachableError naming the target and
// what to do when it cannot be reached at all.
std::unique_ptr<Target> open_target(const std::string& location, const TargetOptions& options);

}  // namespace exmsync::sync
