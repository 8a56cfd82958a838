#include "sync/plan.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace exmsync::sync {
namespace {

using manifest::ChangeKind;
using manifest::Entry;
using manifest::EntryType;

Expect expect_of(const Entry& e) { return Expect{e.type, e.size, e.hash}; }

Op write_op(const Entry& e, const MtimeOf& mtime_of, std::optional<Expect> base) {
    Op op;
    op.kind = OpKind::Write;
    op.path = e.path;
    op.size = e.size;
    op.hash = e.hash;
    op.mtime_ns = mtime_of(e.path);
    op.base = base;
    return op;
}

Op remove_op(const Entry& e) {
    Op op;
    op.kind = e.type == EntryType::Directory ? OpKind::Rmdir : OpKind::Delete;
    op.path = e.path;
    op.base = expect_of(e);
    return op;
}

Op mkdir_op(const std::string& path) {
    Op op;
    op.kind = OpKind::Mkdir;
    op.path = path;
    return op;
}

// The ops one change needs; a type change needs two (remove, then create).
void plan_change(const manifest::Change& c, const MtimeOf& mtime_of, const PlanOptions& options,
                 std::vector<Op>& ops) {
    switch (c.kind) {
        case ChangeKind::Added:
            if (c.after->type == EntryType::Directory) ops.push_back(mkdir_op(c.path));
            else if (c.after->type == EntryType::File) ops.push_back(write_op(*c.after, mtime_of, std::nullopt));
            return;
        case ChangeKind::Removed:
            if (options.deletes) ops.push_back(remove_op(*c.before));
            return;
        case ChangeKind::Modified:
            if (c.after->type == EntryType::File) ops.push_back(write_op(*c.after, mtime_of, expect_of(*c.before)));
            return;
        case ChangeKind::TypeChanged:
            if (c.before->type != EntryType::Directory && c.after->type == EntryType::File) {
                ops.push_back(write_op(*c.after, mtime_of, expect_of(*c.before)));
                return;
            }
            ops.push_back(remove_op(*c.before));
            if (c.after->type == EntryType::Directory) ops.push_back(mkdir_op(c.path));
            else if (c.after->type == EntryType::File) ops.push_back(write_op(*c.after, mtime_of, std::nullopt));
            return;
        case ChangeKind::Renamed: {
            if (!options.deletes) {
                ops.push_back(write_op(*c.after, mtime_of, std::nullopt));
                return;
            }
            Op op;
            op.kind = OpKind::Rename;
            op.from = c.before->path;
            op.path = c.after->path;
            op.size = c.after->size;
            op.hash = c.after->hash;
            op.mtime_ns = mtime_of(c.after->path);
            op.base = expect_of(*c.before);
            ops.push_back(op);
            return;
        }
    }
}

}  // namespace

Changeset plan_changeset(const manifest::DiffResult& diff, const MtimeOf& mtime_of, const PlanOptions& options) {
    Changeset cs;
    cs.base_root = diff.root_a;
    cs.new_root = diff.root_b;
    for (const auto& c : diff.changes) plan_change(c, mtime_of, options, cs.ops);
    return cs;
}

void manifest_after(manifest::EntryStream& base, Changeset& cs, const boost::filesystem::path& out) {
    std::set<std::string> gone;
    std::map<std::string, Entry, bool (*)(const std::string&, const std::string&)> fresh(
        [](const std::string& a, const std::string& b) { return manifest::compare_paths(a, b) < 0; });
    for (const auto& op : cs.ops) {
        if (op.removes()) gone.insert(op.kind == OpKind::Rename ? op.from : op.path);
        if (op.kind == OpKind::Mkdir) fresh[op.path] = Entry{op.path, EntryType::Directory, 0, {}};
        if (op.kind == OpKind::Write || op.kind == OpKind::Rename)
            fresh[op.path] = Entry{op.path, EntryType::File, op.size, op.hash};
    }
    cs.base_root = base.root();
    manifest::ManifestWriter writer(out);
    auto next_fresh = fresh.begin();
    while (const Entry* e = base.peek()) {
        for (; next_fresh != fresh.end() && manifest::compare_paths(next_fresh->first, e->path) < 0; ++next_fresh)
            writer.add(next_fresh->second);
        if (!gone.count(e->path) && !fresh.count(e->path)) writer.add(*e);
        base.pop();
    }
    for (; next_fresh != fresh.end(); ++next_fresh) writer.add(next_fresh->second);
    cs.new_root = writer.finish();
}

ChangeCounts count_changes(const Changeset& cs) {
    ChangeCounts n;
    for (const auto& op : cs.ops) {
        switch (op.kind) {
            case OpKind::Write: ++n.writes; n.bytes += op.size; break;
            case OpKind::Delete: ++n.deletes; break;
            case OpKind::Rename: ++n.renames; break;
            case OpKind::Mkdir: ++n.mkdirs; break;
            case OpKind::Rmdir: ++n.rmdirs; break;
        }
    }
    return n;
}

}  // namespace exmsync::sync
