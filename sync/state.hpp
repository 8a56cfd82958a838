// The state folder on a target (`.exmsync` in the target root), reached only
// through the target's Transport: nothing in it is ever written by local path,
// so a state folder that is a symlink is refused like any other link.
//
//   lock                      who holds the target (sync/lock.hpp)
//   current                   "<apply id> TAB <root>": the last completed apply
//   statcache                 the target's stat cache, for the next scan
//   journal                   the steps of the commit under way (journal.hpp)
//   undo                      present while that commit is being undone
//   staging/<apply id>/       new content and records waiting for the commit
//   backup/<apply id>/<path>  what the commit replaced or removed, by path
//   history/<apply id>.json   one record per apply, with .ops, .manifest and
//                             .drift beside it
#pragma once

#include <boost/filesystem/path.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "manifest/entry.hpp"
#include "transport/transport.hpp"

namespace exmsync::sync {

namespace layout {
inline const std::string kDir = manifest::kStateFolder;
inline const std::string kLock = kDir + "/lock";
inline const std::string kCurrent = kDir + "/current";
inline const std::string kStatCache = kDir + "/statcache";
inline const std::string kJournal = kDir + "/journal";
inline const std::string kUndo = kDir + "/undo";
inline const std::string kStaging = kDir + "/staging";
inline const std::string kBackup = kDir + "/backup";
inline const std::string kHistory = kDir + "/history";

inline std::string staging(const std::string& apply_id) { return kStaging + "/" + apply_id; }
inline std::string backup(const std::string& apply_id) { return kBackup + "/" + apply_id; }
inline std::string record(const std::string& apply_id) { return kHistory + "/" + apply_id + ".json"; }
inline std::string history_file(const std::string& apply_id, const std::string& ext) {
    return kHistory + "/" + apply_id + "." + ext;
}
}  // namespace layout

// Small-file and folder helpers over one target's transport.
class StateFolder {
public:
    explicit StateFolder(transport::Transport& target) : t_(target) {}

    transport::Transport& transport() { return t_; }
    std::string describe() const { return t_.describe(); }
    // "target X: " for messages.
    std::string where() const { return "target " + t_.describe(); }

    bool exists(const std::string& path);
    // A whole state file; refuses one over 64 MiB (a damaged or hostile file).
    std::string read_small(const std::string& path);
    // Creates `path` with `content`, flushed to disk before it returns;
    // `path` must not exist.
    void write_new(const std::string& path, const std::string& content);
    // Replaces `path` durably: `path.new` is written and flushed, the old file
    // removed, the new one renamed in, the folder flushed. read_small_or_new()
    // finds `path.new` when a crash came between the remove and the rename.
    void replace(const std::string& path, const std::string& content);
    std::optional<std::string> read_small_or_new(const std::string& path);
    // Copies a local file to a new `path` (flushed when `flush`), or back.
    void copy_in(const boost::filesystem::path& local, const std::string& path, transport::Flush flush);
    void copy_out(const std::string& path, const boost::filesystem::path& local);
    // Removes a folder and everything in it; absent is fine. Never follows links.
    void remove_tree(const std::string& path);
    // Creates each missing folder of `path`; something else in the way is an Error.
    void make_folders(const std::string& path);
    // Moves `from` to `to` unless that is already done.
    void move_if_present(const std::string& from, const std::string& to);

private:
    void remove_tree(const std::string& path, transport::Kind kind);

    transport::Transport& t_;
};

}  // namespace exmsync::sync
