// The state folder on a target (default `.exmsync` in the target root): lock,
// journal, staging, backups, history and the pointer to the current manifest.
// Small helpers here read and write it through the Transport interface, so
// every backend keeps its state the same way.
#pragma once

#include <boost/filesystem/path.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "manifest/entry.hpp"
#include "sync/changeset.hpp"
#include "transport/transport.hpp"

namespace exmsync::sync {

struct StateLayout {
    std::string dir = ".exmsync";  // relative to the target root

    std::string lock() const { return dir + "/lock"; }
    std::string journal() const { return dir + "/journal"; }
    std::string current() const { return dir + "/current"; }
    std::string staging_root() const { return dir + "/staging"; }
    std::string backup_root() const { return dir + "/backup"; }
    std::string history_root() const { return dir + "/history"; }
    std::string staging(const std::string& apply_id) const { return staging_root() + "/" + apply_id; }
    std::string backup(const std::string& apply_id) const { return backup_root() + "/" + apply_id; }
    std::string record(const std::string& apply_id) const { return history_root() + "/" + apply_id + ".json"; }
    std::string manifest(const std::string& apply_id) const { return history_root() + "/" + apply_id + ".manifest"; }
};

// One applied changeset, as history keeps it.
struct HistoryRecord {
    std::string apply_id;  // "<sequence>-<changeset id>", e.g. 000003-1f2e3d4c5b6a7980
    std::string kind;      // push, apply or rollback
    std::string applied_at;
    std::string host;
    Changeset changeset;
};

std::string encode_record(const HistoryRecord& record);
HistoryRecord decode_record(const std::string& text, const std::string& where);

// Whole small files through a transport.
std::string read_small_file(transport::Transport& t, const std::string& path);
// Copies a file of the target (a recorded manifest) to a local file.
void copy_to_local(transport::Transport& t, const std::string& path, const boost::filesystem::path& local);
// Creates `path` with `content` and flushes it; `path` must not exist.
void write_new_file(transport::Transport& t, const std::string& path, const std::string& content);
// Replaces `path` through `path.new`: the old file is removed only once the
// new one is flushed (rename never replaces on every backend).
void replace_file(transport::Transport& t, const std::string& path, const std::string& content);
// Removes a folder and everything in it; absent is fine. Never follows links.
void remove_tree(transport::Transport& t, const std::string& path);
// Creates each missing folder of `path`.
void make_folders(transport::Transport& t, const std::string& path);
bool exists(transport::Transport& t, const std::string& path);

// The history on a target, oldest first (records that cannot be read are errors).
std::vector<HistoryRecord> read_history(transport::Transport& t, const StateLayout& state);
// What `current` records: the last completed apply and the root it left.
struct Current {
    std::string apply_id;
    manifest::Hash128 root;
};

// The target's current apply, if any push or apply ever completed.
std::optional<Current> read_current(transport::Transport& t, const StateLayout& state);
std::optional<std::string> current_apply(transport::Transport& t, const StateLayout& state);
// Replaces `current`; the line is "<apply id> TAB <root>".
void write_current(transport::Transport& t, const StateLayout& state, const Current& current);

}  // namespace exmsync::sync
