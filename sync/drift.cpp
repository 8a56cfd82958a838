#include "sync/drift.hpp"

#include "manifest/diff.hpp"
#include "manifest/escape.hpp"
#include "manifest/format.hpp"
#include "sync/history.hpp"

namespace exmsync::sync {
namespace fs = boost::filesystem;
using manifest::TempFile;

namespace {

// Entries of `in` that `filter` keeps, rewritten (folder hashes follow).
void filtered_copy(const fs::path& in, const manifest::Filter& filter, const fs::path& out) {
    manifest::ManifestReader reader(in);
    manifest::ManifestWriter writer(out);
    std::string dropped;  // a folder left out, with its subtree
    while (const manifest::Entry* e = reader.peek()) {
        bool inside = !dropped.empty() && manifest::is_inside(e->path, dropped);
        if (!inside) {
            dropped.clear();
            if (filter.excluded(e->path, e->type == manifest::EntryType::Directory)) {
                if (e->type == manifest::EntryType::Directory) dropped = e->path;
            } else {
                writer.add(*e);
            }
        }
        reader.pop();
    }
    writer.finish();
}

}  // namespace

std::unique_ptr<Drift> find_drift(StateFolder& state, const FilterSpec& filter, const fs::path& actual,
                                  const manifest::Hash128& actual_root) {
    auto drift = std::make_unique<Drift>();
    History history(state);
    auto current = history.current();
    // The usual case, no hand edits, costs one small read.
    if (!current || current->root == actual_root) return drift;
    const std::string recorded_file = layout::history_file(current->apply_id, "manifest");
    if (!state.exists(recorded_file)) return drift;
    auto record = decode_record(state.read_small(layout::record(current->apply_id)), current->apply_id);
    TempFile recorded, then_filtered, now_filtered;
    state.copy_out(recorded_file, recorded.path());
    fs::path before = recorded.path(), now = actual;
    if (!(record.header.filter == filter)) {
        filtered_copy(recorded.path(), filter.filter(), then_filtered.path());
        filtered_copy(actual, record.header.filter.filter(), now_filtered.path());
        before = then_filtered.path();
        now = now_filtered.path();
    }
    manifest::ManifestReader a(before), b(now);
    manifest::DiffOptions plain;
    plain.detect_renames = false;
    manifest::LineWriter out(drift->file.path());
    manifest::diff_streams(a, b, plain, [&](const manifest::Change& c) {
        // A folder that appeared or went, alone, is no edit of content: one
        // holding only files outside the sync set shows up that way.
        auto folder = [](const std::optional<manifest::Entry>& e) {
            return !e || e->type == manifest::EntryType::Directory;
        };
        if (folder(c.before) && folder(c.after)) return;
        out.add((c.before ? c.before->hash.hex() : "-") + "\t" + manifest::escape_path(c.path));
        if (drift->shown.size() < kDriftShown) drift->shown.push_back({c.path, c.before});
        ++drift->count;
    });
    out.close();
    return drift;
}

}  // namespace exmsync::sync
