#include "sync/rollback.hpp"

#include <cstdio>

#include "manifest/escape.hpp"
#include "sync/feeds.hpp"
#include "sync/journal.hpp"
#include "sync/snapshot.hpp"

namespace exmsync::sync {
namespace {

// A content key: "hash TAB size", fixed width, so byte order groups equal contents.
std::string content_key(const manifest::Hash128& hash, std::uint64_t size) {
    char text[24];
    std::snprintf(text, sizeof text, "%020llu", static_cast<unsigned long long>(size));
    return hash.hex() + "\t" + text;
}
constexpr std::size_t kKeyLength = 32 + 1 + 20;

bool bytes_less(std::string_view a, std::string_view b) { return a < b; }

// Where-list lines are "w|r TAB escaped path TAB escaped source".
std::string where_path(std::string_view line) { return *manifest::unescape_path(line.substr(2, line.find('\t', 2) - 2)); }

bool where_less(std::string_view a, std::string_view b) {
    return manifest::compare_paths(where_path(a), where_path(b)) < 0;
}

const HistoryRecord& find_record(const std::vector<HistoryRecord>& history, const std::string& to,
                                 const std::string& where) {
    const HistoryRecord* found = nullptr;
    for (const auto& r : history) {
        auto dash = r.apply_id.find('-');
        std::string changeset_id = dash == std::string::npos ? "" : r.apply_id.substr(dash + 1);
        if (r.apply_id.rfind(to, 0) != 0 && (changeset_id.empty() || changeset_id.rfind(to, 0) != 0)) continue;
        if (found) throw UsageError("'" + to + "' matches more than one apply on " + where + "; give more of the id");
        found = &r;
    }
    if (!found)
        throw UsageError("no apply '" + to + "' in the history of " + where + "; see 'exmsync history " + where + "'");
    return *found;
}

// Every file the applies after `index` moved to their backups, by content:
// "hash TAB size TAB escaped backup path".
void saved_contents(StateFolder& state, const std::vector<HistoryRecord>& history, std::size_t index,
                    manifest::ExternalSorter& out) {
    for (std::size_t h = index + 1; h < history.size(); ++h) {
        const HistoryRecord& r = history[h];
        if (r.apply_id == kInitialApply) continue;
        TempFile ops;
        state.copy_out(layout::history_file(r.apply_id, "ops"), ops.path());
        OpListReader reader(ops.path(), r.header, r.apply_id);
        Op op;
        while (reader.next(op)) {
            // A rename's old content moved on to its new path: not in the backup.
            bool backed_up = (op.kind == OpKind::Delete || op.kind == OpKind::Write) && op.base &&
                             op.base->type == manifest::EntryType::File;
            if (backed_up)
                out.add(content_key(op.base->hash, op.base->size) + "\t" +
                        manifest::escape_path(backup_file(r.apply_id, op.path)));
        }
    }
}

// Answers mtime_of(path) in path order from the sorted where-list.
class WhereCursor {
public:
    WhereCursor(const boost::filesystem::path& file, transport::Transport& target) : in_(file), target_(target) {}
    std::int64_t mtime_of(const std::string& path) {
        while (has_ && manifest::compare_paths(where_path(line_), path) < 0) has_ = in_.next(line_);
        if (!has_ || where_path(line_) != path) throw Error("internal: no source for '" + manifest::escape_path(path) + "'");
        auto source = manifest::unescape_path(std::string_view(line_).substr(line_.rfind('\t') + 1));
        auto st = target_.stat(*source);
        return st ? st->mtime_ns : 0;
    }

private:
    manifest::LineReader in_;
    transport::Transport& target_;
    std::string line_;
    bool has_ = in_.next(line_);
};

// Where the content of every file the rollback writes or moves comes from.
void locate_contents(StateFolder& state, const std::vector<HistoryRecord>& history, std::size_t index,
                     const Plan& plan, const std::string& to, const boost::filesystem::path& out) {
    manifest::ExternalSorter needed(bytes_less), saved(bytes_less), where(where_less);
    OpListReader ops(plan.ops.path(), plan.header, "rollback");
    Op op;
    while (ops.next(op)) {
        if (op.kind == OpKind::Write) needed.add(content_key(op.hash, op.size) + "\t" + manifest::escape_path(op.path));
        if (op.kind == OpKind::Rename)
            where.add("r\t" + manifest::escape_path(op.path) + "\t" + manifest::escape_path(op.from));
    }
    saved_contents(state, history, index, saved);
    TempFile saved_file;
    saved.finish(saved_file.path());
    manifest::LineReader backups(saved_file.path());
    std::string backup;
    bool has_backup = backups.next(backup);
    needed.finish([&](std::string_view line) {
        std::string_view key = line.substr(0, kKeyLength);
        while (has_backup && std::string_view(backup).substr(0, kKeyLength) < key) has_backup = backups.next(backup);
        std::string path(line.substr(kKeyLength + 1));
        if (!has_backup || std::string_view(backup).substr(0, kKeyLength) != key)
            throw Error("cannot roll " + state.describe() + " back to " + to + ": no backup holds '" + path +
                        "' (its backup was pruned, or it was never pushed)");
        where.add("w\t" + path + "\t" + backup.substr(kKeyLength + 1));
    });
    where.finish(out);
}

}  // namespace

RollbackReport rollback(transport::Transport& target, const std::string& to, const RollbackOptions& options) {
    RollbackReport report;
    DirectTarget direct(target);
    // A dry run takes no lock and recovers nothing: it only reads.
    if (!options.dry_run) report.notes = direct.open(false).notes;
    StateFolder& state = direct.state();
    History history(state);
    auto listed = history.listing();
    const auto& records = listed.records;
    const HistoryRecord& record = find_record(records, to, target.describe());
    std::size_t index = static_cast<std::size_t>(&record - records.data());
    report.to_apply = record.apply_id;
    if (!listed.rollback_possible[index])
        throw Error("cannot roll " + target.describe() + " back to " + record.apply_id + ": the backups it needs " +
                    "were pruned (only the last " + std::to_string(options.keep_backups) + " applies keep theirs)");

    TempFile wanted, actual, hidden, where;
    state.copy_out(layout::history_file(record.apply_id, "manifest"), wanted.path());
    const FilterSpec& filter = record.header.filter;
    if (options.dry_run) direct.peek(filter, actual.path(), hidden.path());
    else direct.scan(filter, actual.path(), hidden.path());

    // Names were accepted when they were pushed: a rollback never refuses them.
    PlanOptions plan_options;
    plan_options.portable = false;
    PlanInput input{actual.path(), wanted.path(), hidden.path(), [](const std::string&) { return 0; }, filter};
    auto first = make_plan(input, plan_options);
    if (first->header.empty()) {
        report.plan = std::move(first);
        return report;
    }
    // Planned again with each file's mtime from where its content is kept.
    locate_contents(state, records, index, *first, record.apply_id, where.path());
    WhereCursor cursor(where.path(), target);
    input.mtime_of = [&](const std::string& path) { return cursor.mtime_of(path); };
    report.plan = make_plan(input, plan_options);
    if (options.dry_run) return report;

    Changeset changeset{report.plan->header, report.plan->ops.path()};
    MappedFeed feed(target, changeset, where.path(), report.plan->new_manifest.path());
    ApplyOptions apply;
    apply.kind = "rollback";
    apply.keep_backups = options.keep_backups;
    report.applied = direct.apply(changeset, feed, actual.path(), apply);
    direct.close();
    return report;
}

}  // namespace exmsync::sync
