#include "sync/report/report.hpp"

#include "manifest/escape.hpp"

namespace exmsync::report {

using manifest::EntryType;

nlohmann::json path_json(const std::string& path) {
    if (manifest::is_valid_utf8(path)) return path;
    return {{"escaped", manifest::escape_path(path)}};
}

nlohmann::json entry_json(const manifest::Entry& e) {
    return {{"path", path_json(e.path)}, {"type", manifest::type_name(e.type)}, {"size", e.size}, {"hash", e.hash.hex()}};
}

nlohmann::json stats_json(const manifest::ScanStats& s) {
    return {{"files", s.files},
            {"directories", s.directories},
            {"symlinks", s.symlinks},
            {"bytes", s.bytes},
            {"hashed_files", s.hashed_files},
            {"hashed_bytes", s.hashed_bytes},
            {"cached_files", s.cached_files}};
}

std::string stats_line(const manifest::ScanStats& s) {
    return "files=" + std::to_string(s.files) + " directories=" + std::to_string(s.directories) +
           " symlinks=" + std::to_string(s.symlinks) + " bytes=" + std::to_string(s.bytes) +
           " hashed_files=" + std::to_string(s.hashed_files) + " hashed_bytes=" + std::to_string(s.hashed_bytes) +
           " cached_files=" + std::to_string(s.cached_files);
}

void write_manifest_json(std::ostream& out, manifest::EntryStream& entries, const nlohmann::json& extra) {
    nlohmann::json head = {{"format", "exmsync-manifest"}, {"version", manifest::kManifestVersion},
                           {"root", entries.root().hex()}};
    head.update(extra);
    std::string text = head.dump();
    text.pop_back();  // reopen the object to stream the entries into it
    out << text << ",\"entries\":[";
    bool first = true;
    while (const auto* e = entries.peek()) {
        out << (first ? "\n" : ",\n") << entry_json(*e).dump();
        first = false;
        entries.pop();
    }
    out << "\n]}\n";
}

namespace {

std::string shown(const manifest::Entry& e) {
    std::string p = manifest::escape_path(e.path);
    return e.type == EntryType::Directory ? p + "/" : p;
}

}  // namespace

void write_diff_short(std::ostream& out, const manifest::DiffResult& diff) {
    for (const auto& c : diff.changes) {
        out << manifest::change_code(c.kind) << ' ';
        if (c.kind == manifest::ChangeKind::Renamed) out << shown(*c.before) << " -> ";
        out << shown(c.after ? *c.after : *c.before) << '\n';
    }
}

nlohmann::json diff_json(const manifest::DiffResult& diff) {
    nlohmann::json changes = nlohmann::json::array();
    for (const auto& c : diff.changes) {
        nlohmann::json j = {{"change", manifest::change_name(c.kind)}, {"path", path_json(c.path)}};
        if (c.kind == manifest::ChangeKind::Renamed) j["from"] = path_json(c.before->path);
        if (c.before) j["before"] = entry_json(*c.before);
        if (c.after) j["after"] = entry_json(*c.after);
        changes.push_back(std::move(j));
    }
    return {{"same", diff.same()},
            {"root_a", diff.root_a.hex()},
            {"root_b", diff.root_b.hex()},
            {"changes", std::move(changes)}};
}

std::string counts_text(const sync::ChangeCounts& c, bool dry_run) {
    return std::string(dry_run ? "would write " : "wrote ") + std::to_string(c.writes) + " files (" +
           std::to_string(c.bytes) + " bytes), " + (dry_run ? "delete " : "deleted ") + std::to_string(c.deletes) +
           ", " + (dry_run ? "rename " : "renamed ") + std::to_string(c.renames) + ", folders +" +
           std::to_string(c.mkdirs) + " -" + std::to_string(c.rmdirs);
}

void write_changeset_short(std::ostream& out, const sync::Changeset& changeset, const std::string& indent) {
    using sync::OpKind;
    for (const auto& op : changeset.ops) {
        out << indent;
        switch (op.kind) {
            case OpKind::Write: out << (op.base ? "M  " : "A  ") << manifest::escape_path(op.path); break;
            case OpKind::Delete: out << "D  " << manifest::escape_path(op.path); break;
            case OpKind::Rename:
                out << "R  " << manifest::escape_path(op.from) << " -> " << manifest::escape_path(op.path);
                break;
            case OpKind::Mkdir: out << "A  " << manifest::escape_path(op.path) << '/'; break;
            case OpKind::Rmdir: out << "D  " << manifest::escape_path(op.path) << '/'; break;
        }
        out << '\n';
    }
}

nlohmann::json changeset_json(const sync::Changeset& changeset) { return nlohmann::json::parse(sync::encode(changeset)); }

nlohmann::json push_json(const sync::PushReport& report, bool dry_run) {
    nlohmann::json targets = nlohmann::json::array();
    for (const auto& t : report.targets) {
        nlohmann::json j = {{"target", t.target}, {"ok", t.ok}, {"in_sync_before", t.already_in_sync}};
        if (!t.ok) j["error"] = t.error;
        j["writes"] = t.changes.writes;
        j["bytes"] = t.changes.bytes;
        j["deletes"] = t.changes.deletes;
        j["renames"] = t.changes.renames;
        j["mkdirs"] = t.changes.mkdirs;
        j["rmdirs"] = t.changes.rmdirs;
        if (!t.apply_id.empty()) j["apply_id"] = t.apply_id;
        nlohmann::json drift = nlohmann::json::array();
        for (const auto& p : t.drift) drift.push_back(path_json(p));
        j["drift"] = drift;
        if (dry_run) j["changeset"] = changeset_json(t.changeset);
        targets.push_back(std::move(j));
    }
    return {{"dry_run", dry_run}, {"ok", report.all_ok()}, {"source", stats_json(report.source.stats)},
            {"targets", targets}};
}

}  // namespace exmsync::report
