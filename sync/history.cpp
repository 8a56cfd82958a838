#include "sync/history.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "sync/error.hpp"

namespace exmsync::sync {
namespace {

constexpr const char* kRecordExt = ".json";

bool is_record_name(const std::string& name) {
    return name.size() > 5 && name.compare(name.size() - 5, 5, kRecordExt) == 0;
}

}  // namespace

std::string encode_record(const HistoryRecord& r) {
    nlohmann::json j = {{"apply_id", r.apply_id},
                        {"kind", r.kind},
                        {"applied_at", r.applied_at},
                        {"host", r.host},
                        {"drift", r.drift},
                        {"changeset", nlohmann::json::parse(encode_header(r.header))}};
    return j.dump() + "\n";
}

HistoryRecord decode_record(const std::string& text, const std::string& where) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    auto bad = [&] { return Error("history record " + where + " is damaged; move it aside to continue"); };
    if (j.is_discarded() || !j.is_object() || !j.contains("changeset") || !j["apply_id"].is_string()) throw bad();
    HistoryRecord r;
    try {
        r.apply_id = j["apply_id"].get<std::string>();
        r.kind = j.value("kind", "");
        r.applied_at = j.value("applied_at", "");
        r.host = j.value("host", "");
        r.drift = j.value("drift", std::uint64_t{0});
    } catch (const nlohmann::json::exception&) {
        throw bad();
    }
    r.header = decode_header(j["changeset"].dump(), where);
    return r;
}

std::vector<HistoryRecord> History::records() { return records(contents()); }

std::vector<HistoryRecord> History::records(const Contents& contents) {
    std::vector<HistoryRecord> out;
    for (const auto& id : contents.applies) {
        const std::string path = layout::record(id);
        out.push_back(decode_record(state_.read_small(path), state_.describe() + "/" + path));
    }
    return out;
}

bool History::empty() {
    if (!state_.exists(layout::kHistory)) return true;
    for (const auto& child : state_.transport().list(layout::kHistory))
        if (is_record_name(child.name)) return false;
    return true;
}

std::string History::next_id(const ChangesetHeader& header) {
    unsigned long long last = 0;
    if (state_.exists(layout::kHistory))
        for (const auto& child : state_.transport().list(layout::kHistory))
            last = std::max(last, std::strtoull(child.name.c_str(), nullptr, 10));
    char sequence[32];
    std::snprintf(sequence, sizeof sequence, "%06llu", last + 1);
    return std::string(sequence) + "-" + header.id();
}

namespace {

std::optional<Current> parse_current(const std::string& text) {
    auto tab = text.find('\t');
    auto root = tab == std::string::npos ? std::nullopt : manifest::Hash128::from_hex(text.substr(tab + 1, 32));
    if (!root || text.size() != tab + 34 || text.back() != '\n') return std::nullopt;
    return Current{text.substr(0, tab), *root};
}

}  // namespace

std::optional<Current> History::current_file() {
    if (!state_.exists(layout::kCurrent)) return std::nullopt;
    return parse_current(state_.read_small(layout::kCurrent));
}

std::optional<Current> History::current(bool* repaired) {
    if (repaired) *repaired = false;
    if (auto current = current_file()) return current;
    if (repaired) *repaired = true;
    // A power cut between replacing `current` and renaming the new one in.
    const std::string fresh = layout::kCurrent + ".new";
    if (state_.exists(fresh))
        if (auto current = parse_current(state_.read_small(fresh))) return current;
    auto all = records();
    if (all.empty()) {
        if (repaired) *repaired = false;
        return std::nullopt;
    }
    return Current{all.back().apply_id, all.back().header.new_root};
}

void History::write_current(const Current& current) {
    state_.replace(layout::kCurrent, current.apply_id + "\t" + current.root.hex() + "\n");
}

History::Contents History::contents() {
    Contents c;
    auto& t = state_.transport();
    if (state_.exists(layout::kHistory))
        for (const auto& child : t.list(layout::kHistory)) {
            c.files.insert(child.name);
            if (is_record_name(child.name)) c.applies.push_back(child.name.substr(0, child.name.size() - 5));
        }
    // By sequence: past 999999 the ids grow a digit and name order breaks.
    std::stable_sort(c.applies.begin(), c.applies.end(), [](const std::string& a, const std::string& b) {
        return std::strtoull(a.c_str(), nullptr, 10) < std::strtoull(b.c_str(), nullptr, 10);
    });
    if (state_.exists(layout::kBackup))
        for (const auto& child : t.list(layout::kBackup)) c.backups.insert(child.name);
    return c;
}

History::Listing History::listing() {
    const auto c = contents();
    Listing out{records(c), std::vector<bool>(c.applies.size(), false)};
    // From the newest back: a rollback to an apply undoes every later one,
    // so it needs each later apply's backup, and its own manifest.
    bool later_backups = true;
    for (std::size_t i = c.applies.size(); i-- > 0;) {
        const std::string& id = c.applies[i];
        out.rollback_possible[i] = later_backups && c.files.count(id + ".manifest") > 0;
        if (id != kInitialApply && c.backups.count(id) == 0) later_backups = false;
    }
    return out;
}

void History::prune(unsigned keep) {
    // Only what is there is removed, from one listing of each folder: every
    // apply prunes what the one before it kept, so this costs the same
    // however long the history has grown.
    auto c = contents();
    std::vector<std::size_t> with_backup;
    for (std::size_t i = 0; i < c.applies.size(); ++i)
        if (c.applies[i] != kInitialApply) with_backup.push_back(i);
    if (with_backup.size() <= keep) return;
    std::size_t cut = with_backup[with_backup.size() - keep - 1];  // the newest apply losing its backup
    auto remove = [&](const std::string& id, const char* ext) {
        if (c.files.count(id + "." + ext)) state_.remove_tree(layout::history_file(id, ext));
    };
    for (std::size_t i = 0; i <= cut; ++i) {
        const std::string& id = c.applies[i];
        if (i < cut) remove(id, "manifest");
        if (id == kInitialApply) continue;
        // Without its backup, an apply's operations and drift list serve no
        // rollback; its record stays, for the listing.
        if (c.backups.count(id)) state_.remove_tree(layout::backup(id));
        remove(id, "ops");
        remove(id, "drift");
    }
    // The record before `cut` needed cut's backup; cut's own state is still
    // reachable from the backups after it.
}

}  // namespace exmsync::sync
