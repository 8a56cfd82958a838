#include "sync/changeset.hpp"

#include <nlohmann/json.hpp>

#include "manifest/escape.hpp"
#include "manifest/names.hpp"
#include "sync/error.hpp"

namespace exmsync::sync {
namespace {

using manifest::EntryType;
using manifest::Hash128;
using nlohmann::json;

constexpr const char* kFormat = "exmsync-changeset";

// Paths are bytes; JSON strings are UTF-8. The manifest escape keeps both.
std::string to_text(const std::string& path) { return manifest::escape_path(path); }

[[noreturn]] void bad(const std::string& where, const std::string& problem) {
    throw Error("changeset " + where + ": " + problem + "; it is damaged or not an exmsync changeset");
}

json expect_json(const Expect& e) {
    return {{"type", manifest::type_name(e.type)}, {"size", e.size}, {"hash", e.hash.hex()}};
}

struct Parser {
    const std::string& where;

    const json& field(const json& j, const char* key) const {
        if (!j.contains(key)) bad(where, std::string("missing '") + key + "'");
        return j[key];
    }
    Hash128 hash(const json& j, const char* key) const {
        const json& v = field(j, key);
        auto h = v.is_string() ? Hash128::from_hex(v.get<std::string>()) : std::nullopt;
        if (!h) bad(where, std::string("bad hash in '") + key + "'");
        return *h;
    }
    std::uint64_t number(const json& j, const char* key) const {
        const json& v = field(j, key);
        if (!v.is_number_unsigned()) bad(where, std::string("bad '") + key + "'");
        return v.get<std::uint64_t>();
    }
    std::int64_t signed_number(const json& j, const char* key) const {
        const json& v = field(j, key);
        if (!v.is_number_integer()) bad(where, std::string("bad '") + key + "'");
        return v.get<std::int64_t>();
    }
    std::string text(const json& j, const char* key) const {
        const json& v = field(j, key);
        if (!v.is_string()) bad(where, std::string("bad '") + key + "'");
        return v.get<std::string>();
    }
    std::string path(const json& j, const char* key) const {
        std::string escaped = text(j, key);
        auto raw = manifest::unescape_path(escaped);
        if (!raw) bad(where, "bad escape in path '" + escaped + "'");
        return *raw;
    }
    EntryType type(const json& j) const {
        std::string t = text(j, "type");
        if (t == "file") return EntryType::File;
        if (t == "directory") return EntryType::Directory;
        if (t == "symlink") return EntryType::Symlink;
        bad(where, "unknown type '" + t + "'");
    }
    Expect expect(const json& j) const {
        if (!j.is_object()) bad(where, "bad 'base'");
        return Expect{type(j), number(j, "size"), hash(j, "hash")};
    }
    std::vector<std::string> strings(const json& j, const char* key) const {
        const json& v = field(j, key);
        if (!v.is_array()) bad(where, std::string("bad '") + key + "'");
        std::vector<std::string> out;
        for (const auto& s : v) {
            if (!s.is_string()) bad(where, std::string("bad '") + key + "'");
            out.push_back(s.get<std::string>());
        }
        return out;
    }
    OpKind kind(const std::string& name) const {
        for (OpKind k : {OpKind::Mkdir, OpKind::Write, OpKind::Delete, OpKind::Rename, OpKind::Rmdir})
            if (name == op_name(k)) return k;
        bad(where, "unknown operation '" + name + "'");
    }
};

// The rules decode_op enforces, on an op in memory.
void check_op(const Op& op, const std::string& where, bool portable) {
    for (const std::string* p : {&op.path, &op.from}) {
        if (p == &op.from && op.kind != OpKind::Rename) continue;
        bool created = p == &op.path && op.creates();
        if (auto problem = path_problem(*p, created, portable); !problem.empty())
            bad(where, "path '" + to_text(*p) + "' is not allowed: " + problem);
    }
    if (op.kind == OpKind::Rename && op.from == op.path) bad(where, "rename of '" + to_text(op.path) + "' onto itself");
    if ((op.kind == OpKind::Delete || op.kind == OpKind::Rmdir || op.kind == OpKind::Rename) && !op.base)
        bad(where, std::string(op_name(op.kind)) + " of '" + to_text(op.removed_path()) + "' without its base");
    if (op.kind == OpKind::Mkdir && op.base) bad(where, "mkdir of '" + to_text(op.path) + "' with a base");
    if (op.kind == OpKind::Rmdir && op.base->type != EntryType::Directory)
        bad(where, "rmdir of '" + to_text(op.path) + "', which is not a folder");
    if ((op.kind == OpKind::Delete || op.kind == OpKind::Rename || op.kind == OpKind::Write) && op.base &&
        op.base->type == EntryType::Directory)
        bad(where, std::string(op_name(op.kind)) + " of '" + to_text(op.removed_path()) + "', which is a folder");
}

}  // namespace

// ---- ops ----

bool Op::removes() const {
    return kind == OpKind::Delete || kind == OpKind::Rmdir || kind == OpKind::Rename ||
           (kind == OpKind::Write && base.has_value());
}

bool Op::creates() const { return kind == OpKind::Write || kind == OpKind::Mkdir || kind == OpKind::Rename; }

void ChangeCounts::add(const Op& op) {
    switch (op.kind) {
        case OpKind::Write: ++writes; bytes += op.size; break;
        case OpKind::Delete: ++deletes; break;
        case OpKind::Rename: ++renames; break;
        case OpKind::Mkdir: ++mkdirs; break;
        case OpKind::Rmdir: ++rmdirs; break;
    }
}

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

std::string encode_op(const Op& op) {
    json j = {{"op", op_name(op.kind)}, {"path", to_text(op.path)}};
    if (op.kind == OpKind::Rename) j["from"] = to_text(op.from);
    if (op.kind == OpKind::Write || op.kind == OpKind::Rename) {
        j["size"] = op.size;
        j["hash"] = op.hash.hex();
        j["mtime_ns"] = op.mtime_ns;
    }
    if (op.base) j["base"] = expect_json(*op.base);
    return j.dump();
}

Op decode_op(std::string_view line, const std::string& where, bool portable) {
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) bad(where, "an operation that is not a JSON object");
    Parser p{where};
    Op op;
    op.kind = p.kind(p.text(j, "op"));
    op.path = p.path(j, "path");
    if (op.kind == OpKind::Rename) op.from = p.path(j, "from");
    if (op.kind == OpKind::Write || op.kind == OpKind::Rename) {
        op.size = p.number(j, "size");
        op.hash = p.hash(j, "hash");
        op.mtime_ns = p.signed_number(j, "mtime_ns");
    }
    if (j.contains("base")) op.base = p.expect(j["base"]);
    check_op(op, where, portable);
    return op;
}

std::string path_problem(std::string_view path, bool created, bool portable) {
    if (auto problem = manifest::path_problem(path); !problem.empty()) return problem;
    if (manifest::touches_state_folder(path)) return std::string("it is inside the state folder ") + manifest::kStateFolder;
    if (!created || !portable) return {};
    for (std::size_t start = 0;;) {
        std::size_t slash = path.find('/', start);
        auto part = path.substr(start, slash == std::string_view::npos ? slash : slash - start);
        if (auto problem = manifest::windows_name_problem(part); !problem.empty())
            return "'" + manifest::escape_path(part) + "' " + problem;
        if (slash == std::string_view::npos) return {};
        start = slash + 1;
    }
}

std::string order_problem(const Op& prev, const Op& next) {
    int order = manifest::compare_paths(prev.path, next.path);
    if (order < 0) return {};
    if (order > 0) return "is out of order";
    bool removal = prev.kind == OpKind::Delete || prev.kind == OpKind::Rmdir;
    bool fresh = next.creates() && !next.base;
    if (removal && fresh) return {};
    return "is touched twice";
}

// ---- header ----

manifest::Filter FilterSpec::filter() const { return manifest::Filter(include, exclude, default_excludes); }

std::string encode_header(const ChangesetHeader& h) {
    const ChangeCounts& c = h.counts;
    json j = {{"format", kFormat},
              {"version", kChangesetVersion},
              {"base_root", h.base_root.hex()},
              {"new_root", h.new_root.hex()},
              {"counts",
               {{"writes", c.writes},
                {"deletes", c.deletes},
                {"renames", c.renames},
                {"mkdirs", c.mkdirs},
                {"rmdirs", c.rmdirs},
                {"bytes", c.bytes}}},
              {"filter",
               {{"include", h.filter.include},
                {"exclude", h.filter.exclude},
                {"default_excludes", h.filter.default_excludes}}},
              {"portable", h.portable},
              {"ops_hash", h.ops_hash.hex()}};
    return j.dump();
}

ChangesetHeader decode_header(std::string_view text, const std::string& where) {
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) bad(where, "metadata is not JSON");
    if (!j.contains("format") || j["format"] != kFormat) bad(where, "metadata is not an exmsync changeset");
    if (!j.contains("version") || j["version"] != kChangesetVersion) {
        std::string version = j.contains("version") ? j["version"].dump() : "?";
        std::string advice = version == "1" ? "it was packed by an older exmsync; pack it again with this one"
                                            : "use the same exmsync version on both sides";
        throw Error("changeset " + where + ": format version " + version + " is not supported (this exmsync reads " +
                    "version " + std::to_string(kChangesetVersion) + "); " + advice);
    }
    Parser p{where};
    ChangesetHeader h;
    h.base_root = p.hash(j, "base_root");
    h.new_root = p.hash(j, "new_root");
    const json& c = p.field(j, "counts");
    if (!c.is_object()) bad(where, "bad 'counts'");
    h.counts = {p.number(c, "writes"), p.number(c, "deletes"), p.number(c, "renames"),
                p.number(c, "mkdirs"), p.number(c, "rmdirs"),  p.number(c, "bytes")};
    const json& f = p.field(j, "filter");
    if (!f.is_object() || !p.field(f, "default_excludes").is_boolean()) bad(where, "bad 'filter'");
    h.filter = {p.strings(f, "include"), p.strings(f, "exclude"), f["default_excludes"].get<bool>()};
    if (!p.field(j, "portable").is_boolean()) bad(where, "bad 'portable'");
    h.portable = j["portable"].get<bool>();
    h.ops_hash = p.hash(j, "ops_hash");
    return h;
}

std::string ChangesetHeader::id() const { return manifest::hash_bytes(encode_header(*this)).hex().substr(0, 16); }

// ---- lists ----

OpListWriter::OpListWriter(const boost::filesystem::path& file, bool portable) : out_(file), portable_(portable) {}

void OpListWriter::add(const Op& op) {
    check_op(op, "being planned", portable_);
    if (last_) {
        if (auto problem = order_problem(*last_, op); !problem.empty())
            throw Error("internal: operation on '" + to_text(op.path) + "' " + problem + " in the plan");
    }
    std::string line = encode_op(op);
    out_.add(line);
    line += '\n';
    hasher_.update(line.data(), line.size());
    counts_.add(op);
    last_ = op;
}

void OpListWriter::finish(ChangesetHeader& header) {
    out_.close();
    header.counts = counts_;
    header.ops_hash = hasher_.digest();
    header.portable = portable_;
}

OpListReader::OpListReader(const boost::filesystem::path& file, const ChangesetHeader& header, std::string where)
    : in_(file), header_(header), where_(std::move(where)) {}

OpListReader::~OpListReader() = default;

bool OpListReader::next(Op& op) {
    if (done_) return false;
    if (!in_.next(line_)) {
        done_ = true;
        if (!(counts_ == header_.counts)) bad(where_, "its operations do not add up to the counts in its header");
        if (hasher_.digest() != header_.ops_hash) bad(where_, "its operations do not match the hash in its header");
        return false;
    }
    std::string here = where_ + " operation " + std::to_string(in_.line_number());
    op = decode_op(line_, here, header_.portable);
    if (last_) {
        if (auto problem = order_problem(*last_, op); !problem.empty())
            bad(here, "'" + to_text(op.path) + "' " + problem);
    }
    line_ += '\n';
    hasher_.update(line_.data(), line_.size());
    counts_.add(op);
    last_ = op;
    return true;
}

bool is_config_path(std::string_view path) {
    auto name = manifest::name_of(path);
    if (name.size() < 7) return false;
    std::string tail(name.substr(name.size() - 7));
    for (char& ch : tail) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return tail == ".config";
}

}  // namespace exmsync::sync
