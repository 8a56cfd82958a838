// A target's history: one record per apply in `.exmsync/history`, oldest
// first, with the operations, the manifest after it and the drift it found
// beside it; and `current`, the last completed apply with the root it left.
//
// The first apply on a target also records entry 000000, "before exmsync":
// the manifest the target had by hand, so `rollback --to 000000` can return
// to it with the backups that apply kept.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sync/changeset.hpp"
#include "sync/state.hpp"

namespace exmsync::sync {

inline const std::string kInitialApply = "000000";

struct HistoryRecord {
    std::string apply_id;  // "<6-digit sequence>-<changeset id>", or 000000
    std::string kind;      // push, apply, rollback; "initial" for 000000
    std::string applied_at;
    std::string host;
    ChangesetHeader header;     // 000000: no operations, both roots the hand-kept one
    std::uint64_t drift = 0;    // paths changed by hand since the apply before
    bool operator==(const HistoryRecord&) const = default;
};

std::string encode_record(const HistoryRecord& record);
HistoryRecord decode_record(const std::string& text, const std::string& where);

struct Current {
    std::string apply_id;
    manifest::Hash128 root;
};

class History {
public:
    explicit History(StateFolder& state) : state_(state) {}

    // Every record, oldest first. Throws Error naming a record that cannot be read.
    std::vector<HistoryRecord> records();
    // The records, and for each whether the backups a rollback to it needs
    // are all still there, from one listing of the history folder and one
    // of the backups.
    struct Listing {
        std::vector<HistoryRecord> records;
        std::vector<bool> rollback_possible;
    };
    Listing listing();
    bool empty();
    // The id the next apply of `header` gets.
    std::string next_id(const ChangesetHeader& header);

    // The last completed apply: `current`, or when that file is missing or
    // damaged (a power cut while it was replaced), `current.new` or else the
    // last record; `repaired` is then true, so the caller can rewrite it.
    std::optional<Current> current(bool* repaired = nullptr);
    // Only what the `current` file itself says (nullopt: missing or damaged).
    std::optional<Current> current_file();
    void write_current(const Current& current);

    // Keeps the backups of the last `keep` applies; a record whose rollback
    // would need a pruned backup loses its manifest, so history shows it as
    // pruned rather than offering what cannot be done.
    void prune(unsigned keep);

private:
    // What the history and backup folders hold: the ids of the records,
    // oldest first, and the names in each folder.
    struct Contents {
        std::vector<std::string> applies;
        std::set<std::string> files, backups;
    };
    Contents contents();
    std::vector<HistoryRecord> records(const Contents& contents);

    StateFolder& state_;
};

}  // namespace exmsync::sync
