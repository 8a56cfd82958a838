#include "sync/plan.hpp"

#include "manifest/diff.hpp"
#include "manifest/escape.hpp"
#include "manifest/format.hpp"
#include "manifest/tree_hash.hpp"
#include "sync/error.hpp"

namespace exmsync::sync {
namespace {

using manifest::Change;
using manifest::ChangeKind;
using manifest::Entry;
using manifest::EntryType;

constexpr std::size_t kKeptShown = 20;

std::string show(const std::string& path) { return "'" + manifest::escape_path(path) + "'"; }

Expect expect_of(const Entry& e) { return Expect{e.type, e.size, e.hash}; }

// Walks the scan's hidden-folder list in step with the changes.
class HiddenCursor {
public:
    explicit HiddenCursor(const std::optional<boost::filesystem::path>& file) {
        if (file) reader_.emplace(*file);
        advance();
    }
    // Whether `dir` or a folder inside it holds hidden entries. Asked in
    // manifest order.
    bool holds_hidden(const std::string& dir) {
        while (has_ && manifest::compare_paths(next_, dir) < 0) advance();
        return has_ && (next_ == dir || manifest::is_inside(next_, dir));
    }

private:
    void advance() {
        std::string line;
        has_ = reader_ && reader_->next(line);
        if (!has_) return;
        auto raw = manifest::unescape_path(line);
        if (!raw) throw Error("internal: bad path in the hidden-folder list " + reader_->file().string());
        next_ = std::move(*raw);
    }
    std::optional<manifest::LineReader> reader_;
    std::string next_;
    bool has_ = false;
};

class Planner {
public:
    Planner(const PlanInput& input, const PlanOptions& options, Plan& plan, const boost::filesystem::path& kept_file)
        : input_(input), options_(options), plan_(plan), ops_(plan.ops.path(), options.portable),
          hidden_(input.target_hidden), kept_(kept_file) {}

    void take(const Change& c) {
        switch (c.kind) {
            case ChangeKind::Added: return create(*c.after);
            case ChangeKind::Removed: return removed(*c.before);
            case ChangeKind::Modified:
                if (c.after->type == EntryType::File) write(*c.after, expect_of(*c.before));
                return;
            case ChangeKind::TypeChanged: return type_changed(*c.before, *c.after);
            case ChangeKind::Renamed: return renamed(*c.before, *c.after);
        }
    }

    void finish() {
        ops_.finish(plan_.header);
        kept_.close();
    }

private:
    void create(const Entry& e) {
        if (e.type == EntryType::Directory) add({OpKind::Mkdir, e.path, {}, 0, {}, 0, std::nullopt});
        else if (e.type == EntryType::File) write(e, std::nullopt);
        // A symlink in the source is never pushed; the scan left it out.
    }

    void write(const Entry& e, std::optional<Expect> base) {
        add({OpKind::Write, e.path, {}, e.size, e.hash, input_.mtime_of(e.path), base});
    }

    void removed(const Entry& e) {
        if (!options_.deletes) return;
        if (e.type == EntryType::Directory && keep(e.path)) return;
        add({e.type == EntryType::Directory ? OpKind::Rmdir : OpKind::Delete, e.path, {}, 0, {}, 0, expect_of(e)});
    }

    void type_changed(const Entry& before, const Entry& after) {
        if (before.type != EntryType::Directory) {
            if (after.type == EntryType::File) return write(after, expect_of(before));
            add({OpKind::Delete, before.path, {}, 0, {}, 0, expect_of(before)});
            return create(after);
        }
        // A folder becomes a file: only possible when nothing must stay in it.
        if (!options_.deletes && before.hash != manifest::empty_folder_hash())
            throw ConflictError(show(before.path) + " is a folder on the target but a file in the source, and --no-delete " +
                        "keeps what the folder holds; remove the folder on the target, or push without --no-delete");
        if (options_.deletes && hidden_.holds_hidden(before.path))
            throw ConflictError(show(before.path) + " is a folder on the target but a file in the source, and the folder " +
                        "holds files outside the sync set; move them away on the target, or rename the source file");
        add({OpKind::Rmdir, before.path, {}, 0, {}, 0, expect_of(before)});
        create(after);
    }

    void renamed(const Entry& before, const Entry& after) {
        if (!options_.deletes) return write(after, std::nullopt);
        add({OpKind::Rename, after.path, before.path, after.size, after.hash, input_.mtime_of(after.path),
             expect_of(before)});
    }

    // A removed folder stays when it (or a folder in it) holds hidden
    // entries; its removed files still go.
    bool keep(const std::string& dir) {
        if (!hidden_.holds_hidden(dir)) return false;
        kept_.add(manifest::escape_path(dir));
        bool topmost = last_kept_.empty() || !manifest::is_inside(dir, last_kept_);
        if (topmost) {
            last_kept_ = dir;
            ++plan_.kept_count;
            if (plan_.kept.size() < kKeptShown) plan_.kept.push_back(dir);
        }
        return true;
    }

    void add(const Op& op) { ops_.add(op); }

    const PlanInput& input_;
    const PlanOptions& options_;
    Plan& plan_;
    OpListWriter ops_;
    HiddenCursor hidden_;
    manifest::LineWriter kept_;
    std::string last_kept_;
};

// Reads the kept-folder list in step with the merge below.
class KeptCursor {
public:
    explicit KeptCursor(const boost::filesystem::path& file) : reader_(file) { advance(); }
    bool take(const std::string& path) {
        if (!has_ || next_ != path) return false;
        advance();
        return true;
    }

private:
    void advance() {
        std::string line;
        has_ = reader_.next(line);
        if (has_) next_ = *manifest::unescape_path(line);
    }
    manifest::LineReader reader_;
    std::string next_;
    bool has_ = false;
};

// The target's manifest after the plan: the source's entries, plus what stays
// of the target's own (everything with deletes off, kept folders otherwise).
manifest::Hash128 write_new_manifest(const PlanInput& input, const PlanOptions& options,
                                     const boost::filesystem::path& kept_file, const boost::filesystem::path& out) {
    manifest::ManifestReader target(input.target_manifest), source(input.source_manifest);
    KeptCursor kept(kept_file);
    manifest::ManifestWriter writer(out);
    while (true) {
        const Entry* t = target.peek();
        const Entry* s = source.peek();
        if (!t && !s) break;
        int order = !t ? 1 : !s ? -1 : manifest::compare_paths(t->path, s->path);
        if (order >= 0) {
            writer.add(*s);
            source.pop();
            if (order == 0) target.pop();
            continue;
        }
        if (!options.deletes || kept.take(t->path)) writer.add(*t);
        target.pop();
    }
    return writer.finish();
}

}  // namespace

std::unique_ptr<Plan> make_plan(const PlanInput& input, const PlanOptions& options) {
    auto plan = std::make_unique<Plan>();
    plan->header.filter = input.filter;
    manifest::TempFile kept;
    {
        Planner planner(input, options, *plan, kept.path());
        manifest::ManifestReader target(input.target_manifest), source(input.source_manifest);
        manifest::DiffOptions diff;
        diff.detect_renames = options.detect_renames && options.deletes;
        auto summary = manifest::diff_streams(target, source, diff, [&](const Change& c) { planner.take(c); });
        plan->header.base_root = summary.root_a;
        planner.finish();
    }
    plan->header.new_root = write_new_manifest(input, options, kept.path(), plan->new_manifest.path());
    return plan;
}

}  // namespace exmsync::sync
