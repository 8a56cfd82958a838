#include "sync/state.hpp"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "sync/error.hpp"

namespace exmsync::sync {

std::string encode_record(const HistoryRecord& r) {
    nlohmann::json j = {{"apply_id", r.apply_id},
                        {"kind", r.kind},
                        {"applied_at", r.applied_at},
                        {"host", r.host},
                        {"changeset", nlohmann::json::parse(encode(r.changeset))}};
    return j.dump() + "\n";
}

HistoryRecord decode_record(const std::string& text, const std::string& where) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("changeset") || !j["apply_id"].is_string())
        throw Error("history record " + where + " is damaged; move it aside to continue");
    HistoryRecord r;
    r.apply_id = j["apply_id"].get<std::string>();
    r.kind = j.value("kind", "");
    r.applied_at = j.value("applied_at", "");
    r.host = j.value("host", "");
    r.changeset = decode(j["changeset"].dump(), where);
    return r;
}

std::string read_small_file(transport::Transport& t, const std::string& path) {
    auto reader = t.open_read(path);
    std::string out;
    char buffer[65536];
    while (std::size_t n = reader->read(buffer, sizeof buffer)) {
        out.append(buffer, n);
        if (out.size() > (64u << 20)) throw Error(t.describe() + ": " + path + " is too large for a state file");
    }
    return out;
}

void copy_to_local(transport::Transport& t, const std::string& path, const boost::filesystem::path& local) {
    auto reader = t.open_read(path);
    std::ofstream out(local.string(), std::ios::binary);
    char buffer[65536];
    while (std::size_t n = reader->read(buffer, sizeof buffer)) out.write(buffer, static_cast<std::streamsize>(n));
    out.close();
    if (!out) throw Error("cannot write " + local.string() + ": disk full or I/O error");
}

void write_new_file(transport::Transport& t, const std::string& path, const std::string& content) {
    auto writer = t.create(path);
    writer->write(content.data(), content.size());
    writer->commit();
}

void replace_file(transport::Transport& t, const std::string& path, const std::string& content) {
    std::string fresh = path + ".new";
    if (exists(t, fresh)) t.remove(fresh);
    write_new_file(t, fresh, content);
    if (exists(t, path)) t.remove(path);
    t.rename(fresh, path);
}

bool exists(transport::Transport& t, const std::string& path) { return t.stat(path).has_value(); }

void remove_tree(transport::Transport& t, const std::string& path) {
    auto st = t.stat(path);
    if (!st) return;
    if (st->kind == transport::Kind::Directory)
        for (const auto& child : t.list(path)) remove_tree(t, path + "/" + child.name);
    t.remove(path);
}

void make_folders(transport::Transport& t, const std::string& path) {
    std::size_t start = 0;
    while (start <= path.size()) {
        auto slash = path.find('/', start);
        std::string prefix = path.substr(0, slash);
        auto st = t.stat(prefix);
        if (!st) t.mkdir(prefix);
        else if (st->kind != transport::Kind::Directory)
            throw Error(t.describe() + ": '" + prefix + "' is in the way of the state folder; move it aside");
        if (slash == std::string::npos) break;
        start = slash + 1;
    }
}

std::vector<HistoryRecord> read_history(transport::Transport& t, const StateLayout& state) {
    std::vector<HistoryRecord> records;
    if (!exists(t, state.history_root())) return records;
    for (const auto& child : t.list(state.history_root())) {
        const std::string& name = child.name;
        if (name.size() < 6 || name.substr(name.size() - 5) != ".json") continue;
        std::string path = state.history_root() + "/" + name;
        records.push_back(decode_record(read_small_file(t, path), t.describe() + "/" + path));
    }
    // Names start with a zero-padded sequence number, and list() sorts by name.
    return records;
}

std::optional<Current> read_current(transport::Transport& t, const StateLayout& state) {
    if (!exists(t, state.current())) return std::nullopt;
    std::string text = read_small_file(t, state.current());
    auto tab = text.find('\t');
    auto root = tab == std::string::npos ? std::nullopt : manifest::Hash128::from_hex(text.substr(tab + 1, 32));
    if (!root) throw Error(t.describe() + "/" + state.current() + " is damaged; run 'exmsync recover' or push again");
    return Current{text.substr(0, tab), *root};
}

std::optional<std::string> current_apply(transport::Transport& t, const StateLayout& state) {
    auto current = read_current(t, state);
    if (!current) return std::nullopt;
    return current->apply_id;
}

void write_current(transport::Transport& t, const StateLayout& state, const Current& current) {
    replace_file(t, state.current(), current.apply_id + "\t" + current.root.hex() + "\n");
}

}  // namespace exmsync::sync
