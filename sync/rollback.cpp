#include "sync/rollback.hpp"

#include <map>

#include "manifest/diff.hpp"
#include "sync/feeds.hpp"
#include "sync/plan.hpp"

namespace exmsync::sync {
namespace {

using manifest::Hash128;

const HistoryRecord& find_record(const std::vector<HistoryRecord>& history, const std::string& to,
                                 const std::string& where) {
    const HistoryRecord* found = nullptr;
    for (const auto& r : history) {
        std::string changeset_id = r.apply_id.substr(r.apply_id.find('-') + 1);
        if (r.apply_id.rfind(to, 0) != 0 && changeset_id.rfind(to, 0) != 0) continue;
        if (found) throw Error("'" + to + "' matches more than one apply on " + where + "; give more of the id");
        found = &r;
    }
    if (!found) throw Error("no apply '" + to + "' in the history of " + where + "; see 'exmsync history --root " + where + "'");
    return *found;
}

// Content that applies after `index` moved aside, by hash: what a rollback to
// history[index] may need to put back.
std::map<std::pair<Hash128, std::uint64_t>, std::string> saved_content(const std::vector<HistoryRecord>& history,
                                                                       std::size_t index, const StateLayout& state) {
    std::map<std::pair<Hash128, std::uint64_t>, std::string> saved;
    for (std::size_t h = index + 1; h < history.size(); ++h) {
        const auto& ops = history[h].changeset.ops;
        for (std::size_t i = 0; i < ops.size(); ++i) {
            const Op& op = ops[i];
            if (op.kind == OpKind::Rename || op.kind == OpKind::Rmdir || !op.removes()) continue;
            if (op.base->type != manifest::EntryType::File) continue;
            saved.emplace(std::make_pair(op.base->hash, op.base->size),
                          state.backup(history[h].apply_id) + "/" + std::to_string(i));
        }
    }
    return saved;
}

}  // namespace

RollbackReport rollback(const std::string& root, const std::string& to, const RollbackOptions& options) {
    auto target = transport::open_transport(root);
    auto local = target->local_path();
    if (!local) throw Error("rollback works on folders and mounted shares in this build");
    const StateLayout& state = options.state;
    auto history = read_history(*target, state);
    const HistoryRecord& record = find_record(history, to, target->describe());
    std::size_t index = static_cast<std::size_t>(&record - history.data());
    if (!exists(*target, state.manifest(record.apply_id)))
        throw Error("the manifest of apply " + record.apply_id + " on " + target->describe() +
                    " was pruned (only the last few applies are kept); it cannot be rolled back to");

    TempFile wanted, actual;
    copy_to_local(*target, state.manifest(record.apply_id), wanted.path());
    scan_folder(*local, options.scan, actual.path());
    manifest::ManifestReader now(actual.path()), then(wanted.path());
    auto diff = manifest::diff_streams(now, then);

    auto saved = saved_content(history, index, state);
    // Where each restored file's content and mtime come from: a backup, or
    // for a file moved since, the file itself under its current name.
    std::map<std::string, std::string> where, moved_from;
    for (const auto& c : diff.changes) {
        if (c.kind == manifest::ChangeKind::Renamed) {
            moved_from[c.path] = c.before->path;
            continue;
        }
        if (!c.after || c.after->type != manifest::EntryType::File) continue;
        auto it = saved.find({c.after->hash, c.after->size});
        if (it == saved.end())
            throw Error("cannot roll " + target->describe() + " back to " + record.apply_id + ": no backup holds '" +
                        c.path + "' (its backup was pruned, or it was never pushed)");
        where[c.path] = it->second;
    }
    auto mtime_of = [&](const std::string& path) {
        auto it = where.find(path);
        auto st = target->stat(it != where.end() ? it->second : moved_from.at(path));
        return st ? st->mtime_ns : 0;
    };
    RollbackReport report;
    report.to_apply = record.apply_id;
    report.changeset = plan_changeset(diff, mtime_of, PlanOptions{});
    if (options.dry_run || report.changeset.empty()) return report;
    // With deletes, the target ends up holding exactly the wanted manifest.
    MappedFeed feed(*target, report.changeset, std::move(where), wanted.path());
    ApplyOptions apply;
    apply.state = state;
    apply.kind = "rollback";
    report.applied = apply_changeset(*target, report.changeset, feed, apply);
    return report;
}

}  // namespace exmsync::sync
