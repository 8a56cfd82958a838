#include "sync/changeset.hpp"

#include <cctype>
#include <nlohmann/json.hpp>
#include <set>

#include "manifest/escape.hpp"
#include "manifest/file_system.hpp"
#include "sync/error.hpp"

namespace exmsync::sync {
namespace {

using nlohmann::json;
using manifest::EntryType;
using manifest::Hash128;

constexpr const char* kFormat = "exmsync-changeset";

const char* type_code(EntryType t) {
    switch (t) {
        case EntryType::File: return "f";
        case EntryType::Directory: return "d";
        case EntryType::Symlink: return "l";
    }
    return "?";
}

// Paths are bytes; JSON strings are UTF-8. The manifest escape keeps both.
std::string to_text(const std::string& path) { return manifest::escape_path(path); }

[[noreturn]] void bad(const std::string& where, const std::string& problem) {
    throw Error("changeset " + where + ": " + problem + "; it is damaged or not an exmsync changeset");
}

json expect_json(const Expect& e) { return {{"type", type_code(e.type)}, {"size", e.size}, {"hash", e.hash.hex()}}; }

json op_json(const Op& op) {
    json j = {{"op", op_name(op.kind)}, {"path", to_text(op.path)}};
    if (op.kind == OpKind::Rename) j["from"] = to_text(op.from);
    if (op.kind == OpKind::Write || op.kind == OpKind::Rename) {
        j["size"] = op.size;
        j["hash"] = op.hash.hex();
        j["mtime_ns"] = op.mtime_ns;
    }
    if (op.base) j["base"] = expect_json(*op.base);
    return j;
}

struct Parser {
    const std::string& where;

    Hash128 hash(const json& j, const char* key) const {
        if (!j.contains(key) || !j[key].is_string()) bad(where, std::string("missing '") + key + "'");
        auto h = Hash128::from_hex(j[key].get<std::string>());
        if (!h) bad(where, std::string("bad hash in '") + key + "'");
        return *h;
    }
    std::uint64_t number(const json& j, const char* key) const {
        if (!j.contains(key) || !j[key].is_number_unsigned()) bad(where, std::string("missing or bad '") + key + "'");
        return j[key].get<std::uint64_t>();
    }
    std::int64_t signed_number(const json& j, const char* key) const {
        if (!j.contains(key) || !j[key].is_number_integer()) bad(where, std::string("missing or bad '") + key + "'");
        return j[key].get<std::int64_t>();
    }
    std::string path(const json& j, const char* key) const {
        if (!j.contains(key) || !j[key].is_string()) bad(where, std::string("missing '") + key + "'");
        auto raw = manifest::unescape_path(j[key].get<std::string>());
        if (!raw) bad(where, "bad escape in path '" + j[key].get<std::string>() + "'");
        return *raw;
    }
    Expect expect(const json& j) const {
        if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) bad(where, "bad 'base'");
        Expect e;
        std::string t = j["type"].get<std::string>();
        if (t == "f") e.type = EntryType::File;
        else if (t == "d") e.type = EntryType::Directory;
        else if (t == "l") e.type = EntryType::Symlink;
        else bad(where, "unknown base type '" + t + "'");
        e.size = number(j, "size");
        e.hash = hash(j, "hash");
        return e;
    }
    Op op(const json& j) const {
        if (!j.is_object() || !j.contains("op") || !j["op"].is_string()) bad(where, "an operation without 'op'");
        Op op;
        std::string name = j["op"].get<std::string>();
        if (name == "mkdir") op.kind = OpKind::Mkdir;
        else if (name == "write") op.kind = OpKind::Write;
        else if (name == "delete") op.kind = OpKind::Delete;
        else if (name == "rename") op.kind = OpKind::Rename;
        else if (name == "rmdir") op.kind = OpKind::Rmdir;
        else bad(where, "unknown operation '" + name + "'");
        op.path = path(j, "path");
        if (op.kind == OpKind::Rename) op.from = path(j, "from");
        if (op.kind == OpKind::Write || op.kind == OpKind::Rename) {
            op.size = number(j, "size");
            op.hash = hash(j, "hash");
            op.mtime_ns = signed_number(j, "mtime_ns");
        }
        if (j.contains("base")) op.base = expect(j["base"]);
        return op;
    }
};

}  // namespace

bool Op::removes() const {
    return kind == OpKind::Delete || kind == OpKind::Rmdir || kind == OpKind::Rename ||
           (kind == OpKind::Write && base.has_value());
}

bool Op::creates() const { return kind == OpKind::Write || kind == OpKind::Mkdir || kind == OpKind::Rename; }

const char* op_name(OpKind kind) {
    switch (kind) {
        case OpKind::Mkdir: return "mkdir";
        case OpKind::Write: return "write";
        case OpKind::Delete: return "delete";
        case OpKind::Rename: return "rename";
        case OpKind::Rmdir: return "rmdir";
    }
    return "unknown";
}

std::string encode(const Changeset& c) {
    json ops = json::array();
    for (const auto& op : c.ops) ops.push_back(op_json(op));
    json j = {{"format", kFormat},
              {"version", kChangesetVersion},
              {"base_root", c.base_root.hex()},
              {"new_root", c.new_root.hex()},
              {"ops", std::move(ops)}};
    return j.dump();
}

std::string Changeset::id() const { return manifest::hash_bytes(encode(*this)).hex().substr(0, 16); }

std::uint64_t Changeset::bytes_to_write() const {
    std::uint64_t total = 0;
    for (const auto& op : ops)
        if (op.kind == OpKind::Write) total += op.size;
    return total;
}

std::string changeset_path_problem(std::string_view path) {
    if (path.empty()) return "an empty name";
    if (path.front() == '/') return "an absolute path";
    if (path.find('\\') != std::string_view::npos) return "a backslash";
    if (path.find('\0') != std::string_view::npos) return "a NUL byte";
    for (std::size_t start = 0;;) {
        std::size_t slash = path.find('/', start);
        std::string_view part = path.substr(start, slash == std::string_view::npos ? slash : slash - start);
        if (part.empty()) return "an empty component";
        if (part == "." || part == "..") return "a '" + std::string(part) + "' component";
        if (part.size() >= 2 && std::isalpha(static_cast<unsigned char>(part[0])) && part[1] == ':')
            return "a drive letter";
        if (slash == std::string_view::npos) return {};
        start = slash + 1;
    }
}

void validate(const Changeset& c, const std::string& where) {
    std::set<std::string> removed, created;
    for (const auto& op : c.ops) {
        const std::string& gone = op.kind == OpKind::Rename ? op.from : op.path;
        for (const std::string* p : {&op.path, &op.from}) {
            if (p == &op.from && op.kind != OpKind::Rename) continue;
            if (auto problem = changeset_path_problem(*p); !problem.empty())
                bad(where, "unsafe path '" + to_text(*p) + "': " + problem);
        }
        if (op.kind == OpKind::Rename && op.from == op.path) bad(where, "rename of '" + to_text(op.path) + "' onto itself");
        if ((op.kind == OpKind::Delete || op.kind == OpKind::Rmdir || op.kind == OpKind::Rename) && !op.base)
            bad(where, std::string(op_name(op.kind)) + " of '" + to_text(gone) + "' without its base");
        if (op.kind == OpKind::Mkdir && op.base) bad(where, "mkdir of '" + to_text(op.path) + "' with a base");
        if (op.removes() && !removed.insert(gone).second) bad(where, "'" + to_text(gone) + "' is removed twice");
        if (op.creates() && !created.insert(op.path).second) bad(where, "'" + to_text(op.path) + "' is written twice");
    }
}

Changeset decode(std::string_view text, const std::string& where) {
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) bad(where, "metadata is not JSON");
    if (!j.contains("format") || j["format"] != kFormat) bad(where, "metadata is not an exmsync changeset");
    if (!j.contains("version") || j["version"] != kChangesetVersion)
        throw Error("changeset " + where + ": format version " + (j.contains("version") ? j["version"].dump() : "?") +
                    " is not supported (this exmsync reads version " + std::to_string(kChangesetVersion) +
                    "); use the same exmsync version on both sides");
    Parser p{where};
    Changeset c;
    c.base_root = p.hash(j, "base_root");
    c.new_root = p.hash(j, "new_root");
    if (!j.contains("ops") || !j["ops"].is_array()) bad(where, "missing 'ops'");
    for (const auto& op : j["ops"]) c.ops.push_back(p.op(op));
    validate(c, where);
    return c;
}

bool is_config_path(std::string_view path) {
    auto name = manifest::name_of(path);
    if (name.size() < 7) return false;
    std::string tail(name.substr(name.size() - 7));
    for (char& ch : tail) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return tail == ".config";
}

}  // namespace exmsync::sync
