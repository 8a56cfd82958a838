#include "sync/agent/protocol.hpp"

#include "manifest/escape.hpp"

namespace exmsync::sync::agent {
namespace {

using nlohmann::json;

// Paths travel escaped, as manifests hold them: JSON strings must be UTF-8,
// a path need not be.
json path_json(const std::string& path) { return manifest::escape_path(path); }

std::string path_from(const json& j) {
    auto p = manifest::unescape_path(j.get<std::string>());
    if (!p) throw json::other_error::create(501, "a bad path", nullptr);
    return *p;
}

}  // namespace

json hash_json(const manifest::Hash128& h) { return h.hex(); }

manifest::Hash128 hash_from(const json& j) {
    auto h = manifest::Hash128::from_hex(j.get<std::string>());
    if (!h) throw json::other_error::create(501, "a bad hash", nullptr);
    return *h;
}

std::string version() {
#ifdef EXMSYNC_VERSION
    return EXMSYNC_VERSION;
#else
    return "unknown";
#endif
}

json agent_hello() {
#ifdef _WIN32
    const char* os = "windows";
#else
    const char* os = "linux";
#endif
    return {{"exmsync-agent", 1}, {"protocol", kProtocol}, {"version", version()}, {"os", os},
            {"features", {kPeekIfSettled}}};
}

json client_hello() { return {{"exmsync-client", 1}, {"protocol", kProtocol}, {"version", version()}}; }

json filter_json(const FilterSpec& filter) {
    return {{"include", filter.include}, {"exclude", filter.exclude}, {"default_excludes", filter.default_excludes}};
}

FilterSpec filter_from(const json& j) {
    FilterSpec f;
    f.include = j.at("include").get<std::vector<std::string>>();
    f.exclude = j.at("exclude").get<std::vector<std::string>>();
    f.default_excludes = j.at("default_excludes").get<bool>();
    return f;
}

json recover_json(const RecoverReport& r) {
    return {{"broke_stale_lock", r.broke_stale_lock}, {"finished_apply", r.finished_apply},
            {"undone_apply", r.undone_apply},         {"discarded_journal", r.discarded_journal},
            {"staging_removed", r.staging_removed},   {"backups_removed", r.backups_removed},
            {"repaired_current", r.repaired_current}, {"notes", r.notes}};
}

RecoverReport recover_from(const json& j) {
    RecoverReport r;
    r.broke_stale_lock = j.at("broke_stale_lock").get<bool>();
    r.finished_apply = j.at("finished_apply").get<std::string>();
    r.undone_apply = j.at("undone_apply").get<std::string>();
    r.discarded_journal = j.at("discarded_journal").get<bool>();
    r.staging_removed = j.at("staging_removed").get<std::uint64_t>();
    r.backups_removed = j.at("backups_removed").get<std::uint64_t>();
    r.repaired_current = j.at("repaired_current").get<bool>();
    r.notes = j.at("notes").get<std::vector<std::string>>();
    return r;
}

json scan_json(const TargetScan& s) {
    const auto& st = s.scan.stats;
    json drift = json::array();
    for (const auto& d : s.drift) {
        json item = {{"path", path_json(d.path)}, {"recorded", nullptr}};
        if (d.recorded)
            item["recorded"] = {{"type", std::string(1, static_cast<char>(d.recorded->type))},
                                {"size", d.recorded->size},
                                {"hash", hash_json(d.recorded->hash)}};
        drift.push_back(item);
    }
    return {{"root", hash_json(s.scan.root)},
            {"stats",
             {{"files", st.files},
              {"directories", st.directories},
              {"symlinks", st.symlinks},
              {"bytes", st.bytes},
              {"hashed_files", st.hashed_files},
              {"hashed_bytes", st.hashed_bytes},
              {"cached_files", st.cached_files}}},
            {"warnings", s.scan.warnings},
            {"warning_count", s.scan.warning_count},
            {"hidden_folders", s.scan.hidden_folders},
            {"drift", drift},
            {"drift_count", s.drift_count},
            {"pending_journal", s.pending_journal},
            {"settled", s.settled}};
}

TargetScan scan_from(const json& j) {
    TargetScan s;
    s.scan.root = hash_from(j.at("root"));
    const json& st = j.at("stats");
    s.scan.stats.files = st.at("files").get<std::uint64_t>();
    s.scan.stats.directories = st.at("directories").get<std::uint64_t>();
    s.scan.stats.symlinks = st.at("symlinks").get<std::uint64_t>();
    s.scan.stats.bytes = st.at("bytes").get<std::uint64_t>();
    s.scan.stats.hashed_files = st.at("hashed_files").get<std::uint64_t>();
    s.scan.stats.hashed_bytes = st.at("hashed_bytes").get<std::uint64_t>();
    s.scan.stats.cached_files = st.at("cached_files").get<std::uint64_t>();
    s.scan.warnings = j.at("warnings").get<std::vector<std::string>>();
    s.scan.warning_count = j.at("warning_count").get<std::uint64_t>();
    s.scan.hidden_folders = j.at("hidden_folders").get<std::uint64_t>();
    for (const auto& item : j.at("drift")) {
        DriftItem d;
        d.path = path_from(item.at("path"));
        const json& rec = item.at("recorded");
        if (!rec.is_null()) {
            manifest::Entry e;
            e.path = d.path;
            std::string type = rec.at("type").get<std::string>();
            if (type != "f" && type != "d" && type != "l")
                throw json::other_error::create(501, "a bad entry type", nullptr);
            e.type = static_cast<manifest::EntryType>(type[0]);
            e.size = rec.at("size").get<std::uint64_t>();
            e.hash = hash_from(rec.at("hash"));
            d.recorded = e;
        }
        s.drift.push_back(std::move(d));
    }
    s.drift_count = j.at("drift_count").get<std::uint64_t>();
    s.pending_journal = j.at("pending_journal").get<bool>();
    s.settled = j.value("settled", false);  // absent before peek_if_settled
    return s;
}

json apply_json(const ApplyReport& r) {
    const auto& c = r.changes;
    return {{"apply_id", r.apply_id},
            {"already_applied", r.already_applied},
            {"counts",
             {{"writes", c.writes},
              {"deletes", c.deletes},
              {"renames", c.renames},
              {"mkdirs", c.mkdirs},
              {"rmdirs", c.rmdirs},
              {"bytes", c.bytes}}}};
}

ApplyReport apply_from(const json& j) {
    ApplyReport r;
    r.apply_id = j.at("apply_id").get<std::string>();
    r.already_applied = j.at("already_applied").get<bool>();
    const json& c = j.at("counts");
    r.changes.writes = c.at("writes").get<std::uint64_t>();
    r.changes.deletes = c.at("deletes").get<std::uint64_t>();
    r.changes.renames = c.at("renames").get<std::uint64_t>();
    r.changes.mkdirs = c.at("mkdirs").get<std::uint64_t>();
    r.changes.rmdirs = c.at("rmdirs").get<std::uint64_t>();
    r.changes.bytes = c.at("bytes").get<std::uint64_t>();
    return r;
}

}  // namespace exmsync::sync::agent
