// The journal of one commit and the engine that runs it. The journal lists
// every step of the commit; it is written and flushed before the first step
// runs, so that a refusal or a crash at any step can be finished or undone
// from it, in the direction the state folder records (`undo` present: back).
//
// Forward order, each phase in manifest order unless noted:
//   backup  move a replaced or removed file (or symlink) to backup/<id>/<path>
//   rmdir   remove a folder the changeset removes (deepest first)
//   mkdir   create a folder
//   place   move a staged file into place      } configuration files
//   move    move a renamed file from its backup } after the rest
//   tree    move a staged new folder, with all it holds, into place
//           (one rename instead of a mkdir and a place per entry; with
//           the places, in manifest order), followed by
//   in      one line per folder and file inside it, with its content:
//           what resuming checks is in place, and what undoing may take
//           back (nothing else found in the folder)
// and, only for undoing, the two folder phases in the opposite order:
//   unmkdir remove a created folder (deepest first)
//   unrmdir re-create a removed folder (shallowest first)
// Undo runs place/move/tree back, then unmkdir, unrmdir, and backup back.
//
// No step trusts "the destination exists": a step counts as done only when
// its destination holds the expected content (hashed), and as to do only when
// its source is still there, so a file someone else put in the way stops the
// commit instead of being taken for ours.
//
// File format: "exmsync-journal TAB <version> TAB <apply id>" (2 when it
// has tree steps, else 1, which an exmsync from before trees reads), one
// step per line
// (tab-separated, paths escaped), "end TAB <steps>". A journal without its
// last line was cut before it was flushed: its commit never began.
#pragma once

#include <boost/filesystem/path.hpp>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "manifest/sorted_file.hpp"
#include "sync/changeset.hpp"
#include "sync/error.hpp"
#include "sync/state.hpp"

namespace exmsync::sync {

struct Step {
    enum class Kind { Backup, Rmdir, Mkdir, Place, Move, Unmkdir, Unrmdir, Tree, In };
    Kind kind = Kind::Backup;
    std::string path;
    // Backup: what moves away; Place, Move: what arrives.
    Expect content;
    // Backup: the file's own mtime (put back when a renamed file returns);
    // Move: the mtime the renamed file gets.
    std::int64_t mtime_ns = 0;
    std::uint64_t staged = 0;  // Place: the staged file's ordinal; Tree: the staged folder's
    std::string other;         // Backup: where a rename takes it; Move: its source

    bool operator==(const Step&) const = default;
};

std::string encode_step(const Step& step);
Step decode_step(std::string_view line);

// Where a commit keeps content on the target.
std::string staged_file(const std::string& apply_id, std::uint64_t ordinal);
std::string staged_folder(const std::string& apply_id, std::uint64_t ordinal);
std::string backup_file(const std::string& apply_id, const std::string& path);
// A new folder staged whole (Touch::tree), and a path inside it.
std::string staged_tree(const std::string& apply_id, std::uint64_t ordinal);
std::string staged_in_tree(const std::string& apply_id, std::uint64_t ordinal, const std::string& root,
                           const std::string& path);

// Writes a journal to a local file.
class JournalWriter {
public:
    // Version 2 only with tree steps, so that an exmsync from before them
    // can still finish every other commit.
    JournalWriter(const boost::filesystem::path& file, const std::string& apply_id, bool trees);
    void add(const Step& step);
    void close();
    std::uint64_t steps() const { return steps_; }

private:
    manifest::LineWriter out_;
    std::uint64_t steps_ = 0;
};

// A journal read back from a local copy.
class Journal {
public:
    // nullopt when the file was cut before its last line (never complete).
    // Throws Error naming `where` when the file is not a journal at all.
    static std::optional<Journal> load(const boost::filesystem::path& file, const std::string& where);
    const std::string& apply_id() const { return apply_id_; }
    const boost::filesystem::path& file() const { return file_; }
    // Calls `each` for every step of the given kinds, in file order.
    void each(std::initializer_list<Step::Kind> kinds, const std::function<void(const Step&)>& each) const;

private:
    boost::filesystem::path file_;
    std::string apply_id_;
};

// A step the target refused. `path` names where, `cause` the transport's error.
class StepFailed : public Error {
public:
    StepFailed(std::string path, const std::string& cause)
        : Error(cause), path_(std::move(path)) {}
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

// Runs the steps of one journal on a target.
class Commit {
public:
    Commit(StateFolder& state, const Journal& journal) : state_(state), journal_(journal) {}

    // Every forward step once, in order, assuming none has run yet.
    // Throws StepFailed at the first refusal.
    void run();
    // Finishes the forward direction from wherever a crash stopped it.
    // Throws StepFailed when a step can neither be seen done nor be done.
    void resume();
    // Takes back whatever forward steps were done, from any point.
    // Throws StepFailed when a step can neither be seen undone nor be undone.
    void undo();
    // Makes the moves durable: the folders touched, or the whole volume when
    // there are many.
    void flush();

private:
    // Runs the steps of the given kinds in file order, a tree step with
    // the in lines that follow it.
    void steps(std::initializer_list<Step::Kind> kinds, bool undoing, bool resuming);
    void forward(const Step& step, bool resuming);
    void backward(const Step& step);
    void forward_tree(const Step& tree, const boost::filesystem::path& items, bool resuming);
    void backward_tree(const Step& tree, const boost::filesystem::path& items);
    // The first entry of the placed folder `root` that undoing may not take
    // back (content this apply did not put there), or nullopt.
    std::optional<std::string> foreign_in_tree(const std::string& root, const boost::filesystem::path& items);
    bool holds(const std::string& path, const Expect& want);
    void rename(const std::string& from, const std::string& to, const std::string& step_path);
    void touched(const std::string& path);
    void done(const std::string& from, const std::string& to);

    StateFolder& state_;
    const Journal& journal_;
    std::set<std::string> folders_;  // touched, until there are too many to flush one by one
    bool many_folders_ = false;
};

}  // namespace exmsync::sync
