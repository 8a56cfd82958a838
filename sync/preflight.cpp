#include "sync/preflight.hpp"

#include <boost/filesystem/operations.hpp>
#include <vector>

#include "manifest/escape.hpp"
#include "sync/journal.hpp"
#include "sync/touches.hpp"

namespace exmsync::sync {
namespace {

using manifest::EntryType;
using transport::Kind;

constexpr std::size_t kMaxProblemsShown = 8;
// Room the commit needs besides its folders: the journal's own entries and
// the undo marker, with a margin.
constexpr std::uint64_t kSpareInodes = 8;
constexpr std::uint64_t kSpareBytes = 1u << 20;
constexpr std::uint64_t kBytesPerFolder = 4096;

std::string show(const std::string& path) { return "'" + manifest::escape_path(path) + "'"; }

bool matches(const transport::Stat& st, const Expect& want) {
    switch (want.type) {
        case EntryType::File: return st.kind == Kind::File && st.size == want.size;
        case EntryType::Directory: return st.kind == Kind::Directory;
        case EntryType::Symlink: return st.kind == Kind::Symlink;
    }
    return false;
}

bool reverse_path_order(std::string_view a, std::string_view b) {
    return manifest::compare_paths(*manifest::unescape_path(b), *manifest::unescape_path(a)) < 0;
}

// A folder the commit removes, with what it holds now, matched against the
// touches inside it as they come.
struct RemovedFolder {
    std::string path;
    std::vector<transport::DirEntry> children;  // sorted by name
    std::size_t next = 0;
};

class Preflight {
public:
    Preflight(StateFolder& state, const ChangesetHeader& header, const boost::filesystem::path& journal,
              const std::string& apply_id)
        : state_(state), t_(state.transport()), header_(header), journal_file_(journal), apply_id_(apply_id),
          identity_(t_.capabilities().file_identity) {
        if (identity_) volume_ = t_.stat(layout::kDir)->device;
    }

    void check(const Touch& touch) {
        while (!removed_.empty() && !manifest::is_inside(touch.path, removed_.back().path)) leave_removed();
        while (!made_.empty() && !manifest::is_inside(touch.path, made_.back())) made_.pop_back();
        // Inside a folder this commit creates nothing can exist yet, and the
        // old thing at that folder's path may be a symlink no check may cross.
        bool in_made_folder = !made_.empty() && made_.back() == manifest::parent_of(touch.path);
        if (touch.before) check_removal(touch);
        else if (touch.make != Touch::Make::Nothing && !in_made_folder && t_.stat(touch.path))
            problem(show(touch.path) + " appeared on the target since it was scanned; push again");
        if (touch.make != Touch::Make::Nothing) check_creation(touch, in_made_folder);
        record_steps(touch);
    }

    void finish() {
        while (!removed_.empty()) leave_removed();
        check_space();
        if (!problems_.empty()) {
            std::string list;
            for (std::size_t i = 0; i < problems_.size() && i < kMaxProblemsShown; ++i)
                list += (i ? "; " : "") + problems_[i];
            if (problems_.size() > kMaxProblemsShown) list += "; and more";
            throw PreflightError(state_.where() + ": refusing to commit, nothing was changed: " + list);
        }
        write_journal();
    }

private:
    void check_removal(const Touch& touch) {
        if (!removed_.empty()) mark_removed(touch.path);
        auto st = t_.stat(touch.path);
        if (!st || !matches(*st, *touch.before)) {
            problem(show(touch.path) + " changed on the target since it was scanned; push again");
            return;
        }
        if (!same_volume(touch.path, *st)) return;
        if (auto why = t_.removal_problem(touch.path); !why.empty())
            problem(show(touch.path) + " cannot be moved: " + why);
        if (touch.removes_folder()) removed_.push_back({touch.path, t_.list(touch.path), 0});
        else mtime_ = st->mtime_ns;
    }

    // Each child of a removed folder must be removed too; the touches come
    // in manifest order, which among siblings is name order, as list() is.
    void mark_removed(const std::string& path) {
        RemovedFolder& folder = removed_.back();
        if (manifest::parent_of(path) != folder.path) return;
        std::string_view name = manifest::name_of(path);
        while (folder.next < folder.children.size() && folder.children[folder.next].name < name)
            left_behind(folder, folder.children[folder.next++].name);
        if (folder.next < folder.children.size() && folder.children[folder.next].name == name) ++folder.next;
    }

    void leave_removed() {
        RemovedFolder& folder = removed_.back();
        while (folder.next < folder.children.size()) left_behind(folder, folder.children[folder.next++].name);
        removed_.pop_back();
    }

    void left_behind(const RemovedFolder& folder, const std::string& name) {
        problem("folder " + show(folder.path) + " still holds " + show(folder.path + "/" + name) +
                ", which the changeset does not remove (added since the scan, or outside the sync set); " +
                "move it away on the target, or push again");
    }

    void check_creation(const Touch& touch, bool in_made_folder) {
        std::string parent(manifest::parent_of(touch.path));
        if (touch.make == Touch::Make::Folder) made_.push_back(touch.path);
        if (in_made_folder || (checked_parent_ && *checked_parent_ == parent)) return;
        checked_parent_ = parent;
        auto st = t_.stat(parent);
        if (!st || st->kind != Kind::Directory) return;  // removed and re-created: the base check saw to it
        if (!same_volume(parent, *st)) return;
        if (auto why = t_.creation_problem(parent); !why.empty())
            problem("folder " + show(parent) + " cannot take new entries: " + why);
    }

    bool same_volume(const std::string& path, const transport::Stat& st) {
        if (!identity_ || st.device == volume_) return true;
        problem(show(path) + " is on another volume than the state folder (" + mount_point(path) +
                "); a commit cannot move files across volumes all or nothing: give that folder as a target of its " +
                "own, or exclude it");
        return false;
    }

    // The topmost folder on the way to `path` that is on another volume.
    std::string mount_point(const std::string& path) {
        for (std::size_t slash = path.find('/');; slash = path.find('/', slash + 1)) {
            std::string prefix = path.substr(0, slash);
            auto st = t_.stat(prefix);
            if (st && st->device != volume_) return "a mount point at " + show(prefix);
            if (slash == std::string::npos) return "a mount point on the way";
        }
    }

    void check_space() {
        auto space = t_.space();
        if (!space) return;
        std::uint64_t folders = mkdir_steps_;  // folders staged whole took theirs while staging
        std::uint64_t inodes = folders + kSpareInodes;
        std::uint64_t bytes = folders * kBytesPerFolder + journal_bytes_ + kSpareBytes;
        if (space->free_inodes < inodes)
            problem("the target's volume has " + std::to_string(space->free_inodes) + " free inodes and the commit " +
                    "needs " + std::to_string(inodes) + "; free some on the target");
        if (space->free_bytes < bytes)
            problem("the target's volume has " + std::to_string(space->free_bytes) + " bytes free and the commit " +
                    "needs " + std::to_string(bytes) + "; free space on the target");
    }

    void record_steps(const Touch& t) {
        if (t.before && t.before->type != EntryType::Directory)
            add(backups_, {Step::Kind::Backup, t.path, *t.before, mtime_, 0, t.moves_to});
        if (t.removes_folder()) {
            rmdirs_.add(manifest::escape_path(t.path));
            add(unrmdirs_, {Step::Kind::Unrmdir, t.path, *t.before, 0, 0, {}});
        }
        if (t.tree) {
            // Staged whole: one step moves the folder, and an in line says
            // each thing it holds.
            if (t.is_tree_root()) {
                ++trees_;
                add(places_, {Step::Kind::Tree, t.path, {EntryType::Directory, 0, {}}, 0, t.tree, {}});
            } else if (t.make == Touch::Make::Folder) {
                add(places_, {Step::Kind::In, t.path, {EntryType::Directory, 0, {}}, 0, 0, {}});
            } else {
                add(places_, {Step::Kind::In, t.path, {EntryType::File, t.size, t.hash}, t.mtime_ns, 0, {}});
            }
            return;
        }
        if (t.make == Touch::Make::Folder) {
            ++mkdir_steps_;
            add(mkdirs_, {Step::Kind::Mkdir, t.path, {EntryType::Directory, 0, {}}, 0, 0, {}});
            unmkdirs_.add(manifest::escape_path(t.path));
        }
        if (t.make == Touch::Make::Write || t.make == Touch::Make::Move) {
            Step s{t.make == Touch::Make::Write ? Step::Kind::Place : Step::Kind::Move,
                   t.path, {EntryType::File, t.size, t.hash}, t.mtime_ns, t.staged, t.moves_from};
            add(is_config_path(t.path) ? configs_ : places_, s);
        }
    }

    void add(manifest::LineWriter& list, const Step& step) {
        std::string line = encode_step(step);
        journal_bytes_ += line.size() + 1;
        list.add(line);
    }

    void write_journal() {
        for (auto* list : {&backups_, &mkdirs_, &places_, &configs_, &unrmdirs_}) list->close();
        JournalWriter journal(journal_file_, apply_id_, trees_ != 0);
        auto copy = [&](const manifest::TempFile& file) {
            manifest::LineReader in(file.path());
            std::string line;
            while (in.next(line)) journal.add(decode_step(line));
        };
        auto folders = [&](manifest::ExternalSorter& sorter, Step::Kind kind) {
            sorter.finish([&](std::string_view escaped) {
                journal.add({kind, *manifest::unescape_path(escaped), {EntryType::Directory, 0, {}}, 0, 0, {}});
            });
        };
        copy(backups_file_);
        folders(rmdirs_, Step::Kind::Rmdir);
        copy(mkdirs_file_);
        copy(places_file_);
        copy(configs_file_);
        folders(unmkdirs_, Step::Kind::Unmkdir);
        copy(unrmdirs_file_);
        journal.close();
    }

    void problem(std::string text) {
        if (problems_.size() <= kMaxProblemsShown) problems_.push_back(std::move(text));
    }

    StateFolder& state_;
    transport::Transport& t_;
    const ChangesetHeader& header_;
    boost::filesystem::path journal_file_;
    std::string apply_id_;
    bool identity_;
    std::uint64_t volume_ = 0;
    std::int64_t mtime_ = 0;
    std::vector<RemovedFolder> removed_;
    std::vector<std::string> made_;
    std::optional<std::string> checked_parent_;
    std::vector<std::string> problems_;
    std::uint64_t journal_bytes_ = 0;
    std::uint64_t mkdir_steps_ = 0;
    std::uint64_t trees_ = 0;

    manifest::TempFile backups_file_, mkdirs_file_, places_file_, configs_file_, unrmdirs_file_;
    manifest::LineWriter backups_{backups_file_.path()}, mkdirs_{mkdirs_file_.path()}, places_{places_file_.path()},
        configs_{configs_file_.path()}, unrmdirs_{unrmdirs_file_.path()};
    manifest::ExternalSorter rmdirs_{reverse_path_order}, unmkdirs_{reverse_path_order};
};

}  // namespace

void preflight(StateFolder& state, const std::string& apply_id, const ChangesetHeader& header,
               const boost::filesystem::path& touches, const boost::filesystem::path& journal) {
    Preflight check(state, header, journal, apply_id);
    TouchReader reader(touches);
    Touch touch;
    while (reader.next(touch)) check.check(touch);
    check.finish();
}

}  // namespace exmsync::sync
