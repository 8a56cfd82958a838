// The apply protocol (see apply.hpp for the seven steps). Every step goes
// through the Transport interface, so a fault-injecting transport can stop it
// after any operation, and `recover` must then bring the target to the old or
// the new state, never a mix.
#include "sync/apply.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <unordered_map>

#include "manifest/escape.hpp"
#include "manifest/file_system.hpp"
#include "manifest/format.hpp"
#include "sync/lock.hpp"
#include "sync/log.hpp"
#include "sync/plan.hpp"
#include "sync/platform.hpp"
#include "sync/snapshot.hpp"

namespace exmsync::sync {
namespace {

using manifest::EntryType;
using transport::Kind;
using transport::Transport;

constexpr std::size_t kCopyBuffer = 64 * 1024;
constexpr std::size_t kMaxProblemsShown = 8;
constexpr std::size_t kFoldersFlushedOneByOne = 16;

std::string show(const std::string& path) { return "'" + manifest::escape_path(path) + "'"; }

const std::string& removed_path(const Op& op) { return op.kind == OpKind::Rename ? op.from : op.path; }

struct Content {
    manifest::Hash128 hash;
    std::uint64_t size = 0;
};

Content hash_content(transport::Reader& reader) {
    manifest::StreamHasher hasher;
    std::vector<char> buffer(kCopyBuffer);
    Content c;
    while (std::size_t n = reader.read(buffer.data(), buffer.size())) {
        hasher.update(buffer.data(), n);
        c.size += n;
    }
    c.hash = hasher.digest();
    return c;
}

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

// ---- step 3: the base check ----

void check_one(Transport& t, const std::string& path, const std::optional<Expect>& want,
               const std::set<std::string>& removed, std::vector<std::string>& problems) {
    auto st = t.stat(path);
    if (!want) {
        if (st) problems.push_back(show(path) + " exists but the changeset creates it");
        return;
    }
    switch (want->type) {
        case EntryType::File: {
            if (!st || st->kind != Kind::File) {
                problems.push_back(show(path) + (st ? " is no longer a file" : " is missing"));
                return;
            }
            auto reader = t.open_read(path);
            Content c = hash_content(*reader);
            if (c.size != want->size || c.hash != want->hash) problems.push_back(show(path) + " has other content");
            return;
        }
        case EntryType::Symlink:
            if (!st || st->kind != Kind::Symlink) problems.push_back(show(path) + " is no longer a symlink");
            return;
        case EntryType::Directory:
            if (!st || st->kind != Kind::Directory) {
                problems.push_back(show(path) + " is no longer a folder");
                return;
            }
            for (const auto& child : t.list(path))
                if (!removed.count(path + "/" + child.name))
                    problems.push_back(show(path + "/" + child.name) + " is new in a folder the changeset removes");
            return;
    }
}

void check_base(Transport& t, const Changeset& cs) {
    std::map<std::string, std::optional<Expect>> expected;
    std::set<std::string> removed, made_dirs;
    for (const auto& op : cs.ops) {
        if (!op.removes()) continue;
        expected[removed_path(op)] = op.base;
        removed.insert(removed_path(op));
    }
    for (const auto& op : cs.ops) {
        if (op.creates() && !expected.count(op.path)) expected[op.path] = std::nullopt;
        if (op.kind == OpKind::Mkdir) made_dirs.insert(op.path);
    }
    std::vector<std::string> problems;
    for (const auto& [path, want] : expected) {
        // Inside a folder this changeset creates, nothing can exist yet; and
        // the old thing at that folder's path may be a symlink, which no
        // check may go through.
        if (!want && made_dirs.count(std::string(manifest::parent_of(path)))) continue;
        check_one(t, path, want, removed, problems);
        if (problems.size() > kMaxProblemsShown) break;
    }
    std::set<std::string> parents;
    for (const auto& op : cs.ops) {
        std::string parent(manifest::parent_of(op.path));
        if (!op.creates() || parent.empty() || made_dirs.count(parent) || !parents.insert(parent).second) continue;
        auto st = t.stat(parent);
        if (!st || st->kind != Kind::Directory || removed.count(parent))
            problems.push_back("folder " + show(parent) + " is missing");
    }
    if (problems.empty()) return;
    std::string list;
    for (std::size_t i = 0; i < problems.size() && i < kMaxProblemsShown; ++i) list += (i ? "; " : "") + problems[i];
    if (problems.size() > kMaxProblemsShown) list += "; and more";
    throw DriftError("target " + t.describe() + " is not in the state this changeset was made for (" + list +
                     "); nothing was changed: diff again and push, or pack a new changeset");
}

void refuse_state_paths(const Changeset& cs, const StateLayout& state, const std::string& where) {
    for (const auto& op : cs.ops)
        for (const std::string* p : {&op.path, &op.from})
            if (*p == state.dir || manifest::is_inside(*p, state.dir))
                throw Error("changeset for " + where + " touches the state folder (" + show(*p) +
                            "); refusing it");
}

// ---- step 4: staging ----

constexpr std::size_t kStagedPerFolder = 1000;

// Where the content of op `index` waits in staging until the commit.
std::string staged_path(const std::string& staging, std::size_t index) {
    return staging + "/" + std::to_string(index / kStagedPerFolder) + "/" + std::to_string(index);
}

class Stager {
public:
    Stager(Transport& t, const Changeset& cs, std::string dir) : t_(t), cs_(cs), dir_(std::move(dir)) {
        for (std::size_t i = 0; i < cs.ops.size(); ++i)
            if (cs.ops[i].kind == OpKind::Write) writes_.emplace(cs.ops[i].path, i);
    }

    void take(const std::string& name, std::uint64_t size, transport::Reader& content) {
        if (name == kManifestItem) return take_manifest(content);
        std::string prefix = kFilePrefix;
        auto it = name.rfind(prefix, 0) == 0 ? writes_.find(name.substr(prefix.size())) : writes_.end();
        if (it == writes_.end()) fail("content for " + show(name) + ", which the changeset does not write");
        const Op& op = cs_.ops[it->second];
        if (!staged_.insert(it->second).second) fail("content for " + show(op.path) + " twice");
        if (size != op.size) fail("content for " + show(op.path) + " of the wrong size");
        Content got = copy(content, staged_file(it->second), op.size, nullptr, op.mtime_ns);
        if (got.size != op.size || got.hash != op.hash)
            fail("content for " + show(op.path) + " does not match its hash (the source changed since it was "
                 "scanned, or the changeset is damaged)");
    }

    void finish() {
        for (const auto& [path, index] : writes_)
            if (!staged_.count(index)) fail("no content for " + show(path));
        if (!manifest_seen_) fail("no manifest after apply");
    }

private:
    [[noreturn]] void fail(const std::string& problem) {
        throw Error("changeset for " + t_.describe() + ": " + problem + "; nothing was changed");
    }

    // Staged files go in folders of kStagedPerFolder: one folder with a
    // hundred thousand entries makes every create and rename in it slower.
    std::string staged_file(std::size_t index) {
        std::string folder = dir_ + "/" + std::to_string(index / kStagedPerFolder);
        if (folder != last_folder_) {
            if (!t_.stat(folder)) t_.mkdir(folder);
            last_folder_ = folder;
        }
        return staged_path(dir_, index);
    }

    Content copy(transport::Reader& from, const std::string& to, std::uint64_t limit, std::ostream* tee = nullptr,
                 std::optional<std::int64_t> mtime_ns = std::nullopt) {
        auto writer = t_.create(to);
        if (mtime_ns) writer->set_mtime_on_commit(*mtime_ns);
        manifest::StreamHasher hasher;
        Content c;
        while (std::size_t n = from.read(buffer_.data(), buffer_.size())) {
            c.size += n;
            if (c.size > limit) fail("more content than declared for " + show(to));
            hasher.update(buffer_.data(), n);
            writer->write(buffer_.data(), n);
            if (tee) tee->write(buffer_.data(), static_cast<std::streamsize>(n));
        }
        writer->commit();
        c.hash = hasher.digest();
        return c;
    }

    // The manifest is kept in history, and checked here: it must be a valid
    // manifest whose root is the changeset's new root, and it must agree
    // with the operations at every path they touch, so an op list edited
    // behind the manifest's back is refused.
    void take_manifest(transport::Reader& content) {
        if (manifest_seen_) fail("a second manifest");
        manifest_seen_ = true;
        TempFile local;
        {
            std::ofstream out(local.path().string(), std::ios::binary);
            copy(content, dir_ + "/manifest", std::uint64_t{1} << 32, &out);
        }
        auto expected = expected_entries();
        std::size_t present = 0, found = 0;
        for (const auto& [path, entry] : expected) present += entry.has_value();
        manifest::ManifestReader reader(local.path());
        while (const manifest::Entry* e = reader.peek()) {
            auto it = expected.find(e->path);
            if (it != expected.end()) {
                const auto& want = it->second;
                if (!want) fail("its manifest still lists " + show(e->path) + ", which it removes");
                bool same = want->type == e->type &&
                            (e->type != EntryType::File || (want->size == e->size && want->hash == e->hash));
                if (!same) fail("its manifest disagrees with its operations at " + show(e->path));
                ++found;
            }
            reader.pop();
        }
        if (reader.root() != cs_.new_root) fail("its manifest does not match its new root");
        if (found != present) fail("its manifest lacks paths its operations create");
    }

    // Per touched path, what the manifest after apply must hold there.
    std::map<std::string, std::optional<manifest::Entry>> expected_entries() const {
        std::map<std::string, std::optional<manifest::Entry>> expected;
        for (const auto& op : cs_.ops)
            if (op.removes()) expected[removed_path(op)] = std::nullopt;
        for (const auto& op : cs_.ops) {
            if (op.kind == OpKind::Mkdir) expected[op.path] = manifest::Entry{op.path, EntryType::Directory, 0, {}};
            if (op.kind == OpKind::Write || op.kind == OpKind::Rename)
                expected[op.path] = manifest::Entry{op.path, EntryType::File, op.size, op.hash};
        }
        return expected;
    }

    Transport& t_;
    const Changeset& cs_;
    std::string dir_;
    std::unordered_map<std::string, std::size_t> writes_;
    std::set<std::size_t> staged_;
    std::string last_folder_;
    bool manifest_seen_ = false;
    std::vector<char> buffer_ = std::vector<char>(kCopyBuffer);
};

// ---- step 6: commit ----

struct Step {
    enum Kind { Move, RemoveDir, MakeDir, SetMtime } kind;
    std::string from, to;
    std::int64_t mtime_ns = 0;
};

// The commit as a list of steps that can each be re-run: recovery runs the
// same list again from the top.
std::vector<Step> commit_steps(const Changeset& cs, const StateLayout& state, const std::string& apply_id) {
    const std::string staging = state.staging(apply_id), backup = state.backup(apply_id);
    std::vector<Step> steps;
    std::vector<std::string> rmdirs, mkdirs;
    for (std::size_t i = 0; i < cs.ops.size(); ++i) {
        const Op& op = cs.ops[i];
        if (op.kind == OpKind::Rename) steps.push_back({Step::Move, op.from, staging + "/r" + std::to_string(i)});
        else if (op.kind == OpKind::Rmdir) rmdirs.push_back(op.path);
        else if (op.removes()) steps.push_back({Step::Move, op.path, backup + "/" + std::to_string(i)});
        if (op.kind == OpKind::Mkdir) mkdirs.push_back(op.path);
    }
    auto before = [](const std::string& a, const std::string& b) { return manifest::compare_paths(a, b) < 0; };
    std::sort(rmdirs.begin(), rmdirs.end(), [&](const auto& a, const auto& b) { return before(b, a); });
    std::sort(mkdirs.begin(), mkdirs.end(), before);
    for (const auto& d : rmdirs) steps.push_back({Step::RemoveDir, d, ""});
    for (const auto& d : mkdirs) steps.push_back({Step::MakeDir, "", d});
    for (bool configs : {false, true}) {
        for (std::size_t i = 0; i < cs.ops.size(); ++i) {
            const Op& op = cs.ops[i];
            if (is_config_path(op.path) != configs) continue;
            if (op.kind == OpKind::Write) steps.push_back({Step::Move, staged_path(staging, i), op.path});
            if (op.kind == OpKind::Rename) steps.push_back({Step::Move, staging + "/r" + std::to_string(i), op.path});
        }
    }
    for (const auto& op : cs.ops)
        if (op.kind == OpKind::Rename) steps.push_back({Step::SetMtime, "", op.path, op.mtime_ns});
    return steps;
}

// Runs one step of a commit that starts from the top: every step is still
// to do, so none needs looking at first.
void run_fresh_step(Transport& t, const Step& s) {
    switch (s.kind) {
        case Step::Move: t.rename(s.from, s.to); return;
        case Step::RemoveDir: t.remove(s.from); return;
        case Step::MakeDir: t.mkdir(s.to); return;
        case Step::SetMtime: t.set_mtime(s.to, s.mtime_ns); return;
    }
}

// Runs one step of a commit being resumed, where any step may be done
// already. `moved_on` is where a later step moves this step's destination
// (a renamed file held in staging moves on to its new path), or empty.
void run_step(Transport& t, const Step& s, const std::string& moved_on) {
    switch (s.kind) {
        case Step::Move:
            // Done already when the destination exists: the source may since
            // have been re-created by a later step (a modified file).
            if (t.stat(s.to)) return;
            if (!t.stat(s.from)) {
                if (!moved_on.empty() && t.stat(moved_on)) return;
                throw Error("target " + t.describe() + ": cannot finish the commit, both " + show(s.from) + " and " +
                            show(s.to) + " are missing; the target was changed during the apply");
            }
            t.rename(s.from, s.to);
            return;
        case Step::RemoveDir: {
            // Only a folder: on a re-run, a file written here by a later step
            // (a folder that became a file) must stay.
            auto st = t.stat(s.from);
            if (st && st->kind == Kind::Directory) t.remove(s.from);
            return;
        }
        case Step::MakeDir: {
            auto st = t.stat(s.to);
            if (!st || st->kind != Kind::Directory) t.mkdir(s.to);
            return;
        }
        case Step::SetMtime:
            t.set_mtime(s.to, s.mtime_ns);
            return;
    }
}

void commit(Transport& t, const Changeset& cs, const StateLayout& state, const std::string& apply_id,
            bool resuming) {
    make_folders(t, state.backup(apply_id));
    auto steps = commit_steps(cs, state, apply_id);
    std::map<std::string, std::string> next_move;
    for (const auto& s : steps)
        if (s.kind == Step::Move) next_move[s.from] = s.to;
    std::set<std::string> folders = {"", state.staging(apply_id)};
    for (const auto& s : steps) {
        if (resuming) {
            auto it = s.kind == Step::Move ? next_move.find(s.to) : next_move.end();
            run_step(t, s, it != next_move.end() ? it->second : std::string());
        } else {
            run_fresh_step(t, s);
        }
        for (const std::string* p : {&s.from, &s.to})
            if (!p->empty()) folders.insert(std::string(manifest::parent_of(*p)));
    }
    // One flush of the whole file system is much cheaper than one per
    // folder once a commit touches more than a few.
    if (folders.size() > kFoldersFlushedOneByOne) {
        t.flush_all();
        return;
    }
    for (const auto& f : folders)
        if (auto st = t.stat(f); st && st->kind == Kind::Directory) t.flush_dir(f);
}

// ---- step 7: record and release ----

void move_if_present(Transport& t, const std::string& from, const std::string& to) {
    if (t.stat(from) && !t.stat(to)) t.rename(from, to);
}

void prune_backups(Transport& t, const StateLayout& state, unsigned keep) {
    std::vector<std::string> applies;
    for (const auto& child : t.list(state.history_root()))
        if (child.name.size() > 5 && child.name.substr(child.name.size() - 5) == ".json")
            applies.push_back(child.name.substr(0, child.name.size() - 5));
    if (applies.size() <= keep) return;
    for (std::size_t i = 0; i + keep < applies.size(); ++i) {
        remove_tree(t, state.backup(applies[i]));
        if (exists(t, state.manifest(applies[i]))) t.remove(state.manifest(applies[i]));
    }
}

void finalize(Transport& t, const StateLayout& state, const std::string& apply_id, const manifest::Hash128& new_root,
              unsigned keep) {
    const std::string staging = state.staging(apply_id);
    make_folders(t, state.history_root());
    move_if_present(t, staging + "/record.json", state.record(apply_id));
    move_if_present(t, staging + "/manifest", state.manifest(apply_id));
    if (current_apply(t, state) != apply_id) write_current(t, state, {apply_id, new_root});
    t.flush_dir(state.history_root());
    t.flush_dir(state.dir);
    t.remove(state.journal());
    t.flush_dir(state.dir);
    // Staging goes only after the journal: while the journal exists, a
    // recovery re-runs the commit and needs the changeset kept there.
    remove_tree(t, staging);
    prune_backups(t, state, keep);
}

Changeset load_journaled(Transport& t, const StateLayout& state, const std::string& apply_id) {
    std::string staged = state.staging(apply_id) + "/changeset.json";
    if (exists(t, staged)) return decode(read_small_file(t, staged), t.describe() + "/" + staged);
    std::string record = state.record(apply_id);
    if (exists(t, record)) return decode_record(read_small_file(t, record), t.describe() + "/" + record).changeset;
    throw Error("target " + t.describe() + ": the journal names apply " + apply_id +
                " but its changeset is gone; restore " + staged + " or move the journal aside");
}

RecoverReport recover_locked(Transport& t, const StateLayout& state, unsigned keep) {
    RecoverReport report;
    if (exists(t, state.journal())) {
        std::string apply_id = read_small_file(t, state.journal());
        while (!apply_id.empty() && apply_id.back() == '\n') apply_id.pop_back();
        Changeset cs = load_journaled(t, state, apply_id);
        commit(t, cs, state, apply_id, true);
        finalize(t, state, apply_id, cs.new_root, keep);
        report.finished_apply = apply_id;
    }
    std::string unfinished = state.journal() + ".new";
    if (exists(t, unfinished)) t.remove(unfinished);  // the commit never began
    if (exists(t, state.staging_root())) {
        for (const auto& child : t.list(state.staging_root())) {
            remove_tree(t, state.staging_root() + "/" + child.name);
            ++report.staging_removed;
        }
    }
    return report;
}

std::string next_apply_id(Transport& t, const StateLayout& state, const Changeset& cs) {
    unsigned long long last = 0;
    if (exists(t, state.history_root()))
        for (const auto& child : t.list(state.history_root()))
            last = std::max(last, std::strtoull(child.name.c_str(), nullptr, 10));
    char seq[32];
    std::snprintf(seq, sizeof seq, "%06llu", last + 1);
    return std::string(seq) + "-" + cs.id();
}

void stage(Transport& t, const Changeset& cs, ContentFeed& content, const ApplyOptions& options,
           const std::string& apply_id) {
    const std::string dir = options.state.staging(apply_id);
    make_folders(t, dir);
    make_folders(t, options.state.backup(apply_id));
    try {
        write_new_file(t, dir + "/changeset.json", encode(cs));
        HistoryRecord record{apply_id, options.kind, platform::utc_now(), platform::host_name(), cs};
        write_new_file(t, dir + "/record.json", encode_record(record));
        Stager stager(t, cs, dir);
        content.each([&](const std::string& name, std::uint64_t size, transport::Reader& reader) {
            stager.take(name, size, reader);
        });
        stager.finish();
        t.flush_all();
        t.flush_dir(dir);
    } catch (...) {
        try {
            remove_tree(t, dir);
        } catch (...) {
            // Left for the next recover, which clears abandoned staging.
        }
        throw;
    }
}

void write_journal(Transport& t, const StateLayout& state, const std::string& apply_id) {
    std::string unfinished = state.journal() + ".new";
    write_new_file(t, unfinished, apply_id + "\n");
    t.rename(unfinished, state.journal());
    t.flush_dir(state.dir);
}

}  // namespace

ApplyReport apply_changeset(Transport& t, const Changeset& cs, ContentFeed& content, const ApplyOptions& options) {
    validate(cs, t.describe());
    refuse_state_paths(cs, options.state, t.describe());
    TargetLock lock(t, options.state);
    bool recovered = !recover_locked(t, options.state, options.keep_backups).finished_apply.empty();
    if (cs.empty()) {
        lock.release();
        ApplyReport nothing;
        nothing.recovered_first = recovered;
        return nothing;
    }
    Stopwatch watch;
    try {
        check_base(t, cs);
    } catch (const DriftError& e) {
        auto current = current_apply(t, options.state);
        if (current && current->size() > 17 && current->substr(7) == cs.id())
            throw DriftError(std::string(e.what()) + " (this changeset is already applied, as " + *current + ")");
        throw;
    }
    watch.lap("base check");
    std::string apply_id = next_apply_id(t, options.state, cs);
    stage(t, cs, content, options, apply_id);
    watch.lap("staging");
    write_journal(t, options.state, apply_id);
    try {
        commit(t, cs, options.state, apply_id, false);
        watch.lap("commit");
        finalize(t, options.state, apply_id, cs.new_root, options.keep_backups);
        watch.lap("history");
        log::debug("{}: {}", t.describe(), watch.text());
    } catch (const std::exception& e) {
        throw Error(std::string(e.what()) + "; the commit of " + apply_id + " is journaled: run 'exmsync recover --root " +
                    t.describe() + "' (or apply again) to finish it");
    }
    lock.release();
    ApplyReport report;
    report.apply_id = apply_id;
    report.changes = count_changes(cs);
    report.recovered_first = recovered;
    return report;
}

RecoverReport recover(Transport& t, const StateLayout& state, bool break_stale_lock) {
    TargetLock lock(t, state, break_stale_lock);
    RecoverReport report = recover_locked(t, state, ApplyOptions{}.keep_backups);
    report.broke_stale_lock = lock.broke_stale_lock();
    lock.release();
    return report;
}

}  // namespace exmsync::sync
