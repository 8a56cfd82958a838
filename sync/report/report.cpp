#include "sync/report/report.hpp"

#include <optional>

#include "manifest/escape.hpp"

namespace exmsync::report {

using manifest::EntryType;
using sync::Op;
using sync::OpKind;

void add_path(json& object, const std::string& path, const char* key) {
    if (manifest::is_valid_utf8(path)) {
        object[key] = path;
        return;
    }
    object[key] = manifest::escape_path(path);
    object[std::string(key) == "path" ? "escaped" : std::string(key) + "_escaped"] = true;
}

json entry_json(const manifest::Entry& e) {
    json j = json::object();
    add_path(j, e.path);
    j["type"] = manifest::type_name(e.type);
    j["size"] = e.size;
    j["hash"] = e.hash.hex();
    return j;
}

json stats_json(const manifest::ScanStats& s) {
    return {{"files", s.files},
            {"directories", s.directories},
            {"symlinks", s.symlinks},
            {"bytes", s.bytes},
            {"hashed_files", s.hashed_files},
            {"hashed_bytes", s.hashed_bytes},
            {"cached_files", s.cached_files}};
}

json counts_json(const sync::ChangeCounts& c) {
    return {{"writes", c.writes}, {"deletes", c.deletes}, {"renames", c.renames},
            {"mkdirs", c.mkdirs}, {"rmdirs", c.rmdirs},   {"bytes", c.bytes}};
}

json warning_json(const std::string& code, const std::string& message, const std::string& path) {
    json j = {{"code", code}, {"message", message}};
    if (!path.empty()) add_path(j, path);
    return j;
}

std::string stats_line(const manifest::ScanStats& s) {
    return "files=" + std::to_string(s.files) + " directories=" + std::to_string(s.directories) +
           " symlinks=" + std::to_string(s.symlinks) + " bytes=" + std::to_string(s.bytes) +
           " hashed_files=" + std::to_string(s.hashed_files) + " hashed_bytes=" + std::to_string(s.hashed_bytes) +
           " cached_files=" + std::to_string(s.cached_files);
}

std::string plural(std::uint64_t n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string counts_text(const sync::ChangeCounts& c, bool dry_run) {
    auto verb = [&](const char* now, const char* would) { return std::string(dry_run ? would : now) + " "; };
    return verb("wrote", "would write") + plural(c.writes, "file", "files") + " (" + plural(c.bytes, "byte", "bytes") +
           "), " + verb("deleted", "delete") + plural(c.deletes, "file", "files") + ", " + verb("renamed", "rename") +
           plural(c.renames, "file", "files") + ", " + verb("created", "create") + plural(c.mkdirs, "folder", "folders") +
           ", " + verb("removed", "remove") + plural(c.rmdirs, "folder", "folders");
}

// ---- JsonWriter ----

void JsonWriter::separator() {
    if (first_.empty()) return;
    if (!first_.back()) out_ << ',';
    first_.back() = false;
}

void JsonWriter::begin(const json& head) {
    separator();
    std::string text = head.dump();
    text.pop_back();  // reopen the object for the members that follow
    out_ << text;
    first_.push_back(head.empty());
}

void JsonWriter::member(const std::string& key, const json& value) {
    separator();
    out_ << json(key).dump() << ':' << value.dump();
}

void JsonWriter::array(const std::string& key) {
    separator();
    out_ << json(key).dump() << ":[";
    first_.push_back(true);
}

void JsonWriter::item(const json& value) {
    separator();
    out_ << '\n' << value.dump();
}

void JsonWriter::end_array() {
    first_.pop_back();
    out_ << ']';
}

void JsonWriter::end() {
    first_.pop_back();
    out_ << '}';
    if (first_.empty()) out_ << '\n';
}

void write_entries_json(JsonWriter& out, manifest::EntryStream& entries) {
    while (const auto* e = entries.peek()) {
        out.item(entry_json(*e));
        entries.pop();
    }
}

// ---- changes ----

namespace {

json expect_json(const sync::Expect& e) {
    return {{"type", manifest::type_name(e.type)}, {"size", e.size}, {"hash", e.hash.hex()}};
}

const char* change_of(const Op& op) {
    switch (op.kind) {
        case OpKind::Write:
            if (!op.base) return "added";
            return op.base->type == EntryType::File ? "modified" : "type_changed";
        case OpKind::Mkdir: return "added";
        case OpKind::Delete:
        case OpKind::Rmdir: return "removed";
        case OpKind::Rename: return "renamed";
    }
    return "?";
}

EntryType type_after(const Op& op) {
    if (op.kind == OpKind::Mkdir) return EntryType::Directory;
    if (op.kind == OpKind::Delete || op.kind == OpKind::Rmdir) return op.base->type;
    return EntryType::File;
}

const char* code_of(const char* change) {
    std::string c = change;
    if (c == "added") return "A";
    if (c == "removed") return "D";
    if (c == "modified") return "M";
    if (c == "type_changed") return "T";
    return "R";
}

// Walks the operations, pairing a removal with the creation that follows it
// at the same path (a type change), and hands each change over once.
template <typename Each>
void each_change(const sync::Changeset& changeset, Each&& each) {
    sync::OpListReader ops(changeset.ops, changeset.header, "being reported");
    Op held, op;
    bool holding = false;  // a removal waits: a creation at its path may follow
    while (ops.next(op)) {
        if (holding && held.path == op.path) {
            each(op, "type_changed", &held);
            holding = false;
            continue;
        }
        if (holding) each(held, change_of(held), nullptr);
        holding = op.kind == OpKind::Delete || op.kind == OpKind::Rmdir;
        if (holding) held = op;
        else each(op, change_of(op), nullptr);
    }
    if (holding) each(held, change_of(held), nullptr);
}

std::string shown(const std::string& path, EntryType type) {
    std::string p = manifest::escape_path(path);
    return type == EntryType::Directory ? p + "/" : p;
}

}  // namespace

void write_changes_text(std::ostream& out, const sync::Changeset& changeset, const std::string& indent) {
    each_change(changeset, [&](const Op& op, const char* change, const Op*) {
        out << indent << code_of(change) << "  ";
        if (op.kind == OpKind::Rename) out << manifest::escape_path(op.from) << " -> ";
        out << shown(op.path, type_after(op)) << '\n';
    });
}

void write_changes_json(JsonWriter& out, const sync::Changeset& changeset) {
    each_change(changeset, [&](const Op& op, const char* change, const Op* removed) {
        json j = {{"change", change}, {"type", manifest::type_name(type_after(op))}};
        add_path(j, op.path);
        if (op.kind == OpKind::Rename) add_path(j, op.from, "from");
        if (op.kind == OpKind::Write || op.kind == OpKind::Rename) {
            j["size"] = op.size;
            j["hash"] = op.hash.hex();
        }
        const Op& gone = removed ? *removed : op;
        if (gone.base) j["before"] = expect_json(*gone.base);
        out.item(j);
    });
}

}  // namespace exmsync::report
