#include "sync/journal.hpp"

#include <algorithm>
#include <charconv>
#include <vector>

#include "manifest/escape.hpp"
#include "manifest/file_system.hpp"

namespace exmsync::sync {
namespace {

using Kind = Step::Kind;
using manifest::EntryType;

constexpr const char* kMagic = "exmsync-journal";
constexpr std::size_t kStagedPerFolder = 1000;
constexpr std::size_t kFoldersFlushedOneByOne = 16;
constexpr std::size_t kHashBuffer = 64 * 1024;

struct KindName {
    Kind kind;
    const char* name;
};
constexpr KindName kKinds[] = {{Kind::Backup, "backup"},   {Kind::Rmdir, "rmdir"},     {Kind::Mkdir, "mkdir"},
                               {Kind::Place, "place"},     {Kind::Move, "move"},       {Kind::Unmkdir, "unmkdir"},
                               {Kind::Unrmdir, "unrmdir"}, {Kind::Tree, "tree"},   {Kind::In, "in"}};

[[noreturn]] void bad(std::string_view line) {
    throw Error("journal line '" + std::string(line.substr(0, 200)) + "' is damaged; the journal cannot be used");
}

std::vector<std::string_view> split(std::string_view line) {
    std::vector<std::string_view> out;
    while (true) {
        auto tab = line.find('\t');
        out.push_back(line.substr(0, tab));
        if (tab == std::string_view::npos) return out;
        line.remove_prefix(tab + 1);
    }
}

template <typename Int>
Int number(std::string_view text, std::string_view line) {
    Int value{};
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) bad(line);
    return value;
}

std::string show(const std::string& path) { return "'" + manifest::escape_path(path) + "'"; }

}  // namespace

std::string encode_step(const Step& s) {
    const char* name = "?";
    for (const auto& k : kKinds)
        if (k.kind == s.kind) name = k.name;
    return std::string(name) + "\t" + static_cast<char>(s.content.type) + "\t" + std::to_string(s.content.size) +
           "\t" + s.content.hash.hex() + "\t" + std::to_string(s.mtime_ns) + "\t" + std::to_string(s.staged) + "\t" +
           manifest::escape_path(s.path) + "\t" + manifest::escape_path(s.other);
}

Step decode_step(std::string_view line) {
    auto f = split(line);
    if (f.size() != 8 || f[1].size() != 1) bad(line);
    Step s;
    bool known = false;
    for (const auto& k : kKinds)
        if (f[0] == k.name) s.kind = k.kind, known = true;
    if (!known) bad(line);
    s.content.type = static_cast<EntryType>(f[1][0]);
    s.content.size = number<std::uint64_t>(f[2], line);
    auto hash = manifest::Hash128::from_hex(f[3]);
    if (!hash) bad(line);
    s.content.hash = *hash;
    s.mtime_ns = number<std::int64_t>(f[4], line);
    s.staged = number<std::uint64_t>(f[5], line);
    auto path = manifest::unescape_path(f[6]), other = manifest::unescape_path(f[7]);
    if (!path || !other || path->empty()) bad(line);
    s.path = std::move(*path);
    s.other = std::move(*other);
    return s;
}

// Staged files go in folders of kStagedPerFolder: one folder with a hundred
// thousand entries makes every create and rename in it slower.
std::string staged_folder(const std::string& apply_id, std::uint64_t ordinal) {
    return layout::staging(apply_id) + "/files/" + std::to_string(ordinal / kStagedPerFolder);
}

std::string staged_file(const std::string& apply_id, std::uint64_t ordinal) {
    return staged_folder(apply_id, ordinal) + "/" + std::to_string(ordinal);
}

std::string backup_file(const std::string& apply_id, const std::string& path) {
    return layout::backup(apply_id) + "/" + path;
}

std::string staged_tree(const std::string& apply_id, std::uint64_t ordinal) {
    return layout::staging(apply_id) + "/trees/" + std::to_string(ordinal);
}

std::string staged_in_tree(const std::string& apply_id, std::uint64_t ordinal, const std::string& root,
                           const std::string& path) {
    std::string out = staged_tree(apply_id, ordinal);
    if (path.size() > root.size()) out += path.substr(root.size());  // "/rest"
    return out;
}

// ---- the file ----

JournalWriter::JournalWriter(const boost::filesystem::path& file, const std::string& apply_id, bool trees)
    : out_(file) {
    out_.add(std::string(kMagic) + (trees ? "\t2\t" : "\t1\t") + apply_id);
}

void JournalWriter::add(const Step& step) {
    out_.add(encode_step(step));
    ++steps_;
}

void JournalWriter::close() {
    out_.add("end\t" + std::to_string(steps_));
    out_.close();
}

std::optional<Journal> Journal::load(const boost::filesystem::path& file, const std::string& where) {
    manifest::LineReader in(file);
    std::string line;
    if (!in.next(line)) return std::nullopt;  // empty: cut before anything was flushed
    auto head = split(line);
    if (head.size() != 3 || head[0] != kMagic || (head[1] != "1" && head[1] != "2")) {
        if (std::string(kMagic).rfind(head[0], 0) == 0 && head.size() < 3) return std::nullopt;  // cut in the header
        throw Error("journal " + where + " is not an exmsync journal of version 1 or 2 (a newer exmsync wrote it?); "
                    "finish it with that exmsync's recover, or move it aside and run recover again");
    }
    Journal journal;
    journal.file_ = file;
    journal.apply_id_ = std::string(head[2]);
    std::uint64_t steps = 0;
    bool damaged = false;
    while (in.next(line)) {
        if (line.rfind("end\t", 0) == 0) {
            // Complete: it was flushed whole before its commit began, so any
            // fault in it now is damage, never a cut.
            if (damaged || number<std::uint64_t>(std::string_view(line).substr(4), line) != steps || in.next(line))
                throw Error("journal " + where + " is damaged; restore it from a backup of the server, or move " +
                            "it aside and compare the target with its last manifest by hand");
            return journal;
        }
        try {
            decode_step(line);
        } catch (const Error&) {
            damaged = true;  // a torn last line, unless a trailer follows
        }
        ++steps;
    }
    return std::nullopt;
}

void Journal::each(std::initializer_list<Kind> kinds, const std::function<void(const Step&)>& each) const {
    manifest::LineReader in(file_);
    std::string line;
    in.next(line);  // the header
    while (in.next(line)) {
        if (line.rfind("end\t", 0) == 0) return;
        Step s = decode_step(line);
        for (Kind k : kinds)
            if (s.kind == k) {
                each(s);
                break;
            }
    }
}

// ---- running it ----

void Commit::run() {
    steps({Kind::Backup, Kind::Rmdir, Kind::Mkdir, Kind::Place, Kind::Move, Kind::Tree}, false, false);
}

void Commit::resume() {
    steps({Kind::Backup, Kind::Rmdir, Kind::Mkdir, Kind::Place, Kind::Move, Kind::Tree}, false, true);
}

void Commit::steps(std::initializer_list<Kind> kinds, bool undoing, bool resuming) {
    // A tree's in lines follow it: resume and undo gather them in a local
    // file (a tree may hold any number of entries), and the tree runs once
    // they end. A first run moves the folder without looking: it keeps none.
    const bool keep_items = undoing || resuming;
    std::optional<Step> tree;
    std::unique_ptr<manifest::TempFile> items;
    std::unique_ptr<manifest::LineWriter> writer;
    auto run_tree = [&] {
        if (!tree) return;
        boost::filesystem::path kept;
        if (writer) {
            writer->close();
            kept = items->path();
        }
        if (undoing) backward_tree(*tree, kept);
        else forward_tree(*tree, kept, resuming);
        tree.reset();
        writer.reset();
        items.reset();
    };
    manifest::LineReader in(journal_.file());
    std::string line;
    in.next(line);  // the header
    while (in.next(line)) {
        if (line.rfind("end\t", 0) == 0) break;
        Step s = decode_step(line);
        if (s.kind == Kind::In) {
            if (!tree) {
                if (std::find(kinds.begin(), kinds.end(), Kind::Tree) != kinds.end())
                    throw Error("journal of " + journal_.apply_id() + ": an in line without its tree; it is damaged");
                continue;
            }
            if (writer) writer->add(line);
            continue;
        }
        run_tree();
        if (std::find(kinds.begin(), kinds.end(), s.kind) == kinds.end()) continue;
        if (s.kind == Kind::Tree) {
            tree = s;
            if (keep_items) {
                items = std::make_unique<manifest::TempFile>();
                writer = std::make_unique<manifest::LineWriter>(items->path());
            }
            continue;
        }
        if (undoing) backward(s);
        else forward(s, resuming);
    }
    run_tree();
}

void Commit::undo() {
    steps({Kind::Place, Kind::Move, Kind::Tree}, true, false);
    journal_.each({Kind::Unmkdir}, [&](const Step& s) { backward(s); });
    journal_.each({Kind::Unrmdir}, [&](const Step& s) { backward(s); });
    journal_.each({Kind::Backup}, [&](const Step& s) { backward(s); });
}

void Commit::flush() {
    auto& t = state_.transport();
    if (many_folders_) {
        t.flush_all();
        return;
    }
    for (const auto& folder : folders_)
        if (auto st = t.stat(folder); st && st->kind == transport::Kind::Directory) t.flush_dir(folder);
}

// A step found done when resuming may not be durable yet (the crash came
// before its folders were flushed): its folders are flushed like a step run now.
void Commit::done(const std::string& from, const std::string& to) {
    touched(from);
    touched(to);
}

void Commit::touched(const std::string& path) {
    if (many_folders_) return;
    folders_.insert(std::string(manifest::parent_of(path)));
    if (folders_.size() > kFoldersFlushedOneByOne) {
        many_folders_ = true;
        folders_.clear();
    }
}

void Commit::rename(const std::string& from, const std::string& to, const std::string& step_path) {
    try {
        state_.transport().rename(from, to);
    } catch (const transport::Error& e) {
        throw StepFailed(step_path, e.what());
    }
    touched(from);
    touched(to);
}

bool Commit::holds(const std::string& path, const Expect& want) {
    auto& t = state_.transport();
    auto st = t.stat(path);
    if (!st) return false;
    switch (want.type) {
        case EntryType::Directory: return st->kind == transport::Kind::Directory;
        case EntryType::Symlink: return st->kind == transport::Kind::Symlink && st->size == want.size;
        case EntryType::File: break;
    }
    if (st->kind != transport::Kind::File || st->size != want.size) return false;
    auto reader = t.open_read(path);
    manifest::StreamHasher hasher;
    std::vector<char> buffer(kHashBuffer);
    std::uint64_t total = 0;
    while (std::size_t n = reader->read(buffer.data(), buffer.size())) {
        hasher.update(buffer.data(), n);
        total += n;
    }
    return total == want.size && hasher.digest() == want.hash;
}

void Commit::forward(const Step& s, bool resuming) {
    auto& t = state_.transport();
    const std::string& id = journal_.apply_id();
    try {
        switch (s.kind) {
            case Kind::Backup: {
                std::string to = backup_file(id, s.path);
                if (resuming) {
                    if (state_.exists(to)) {
                        if (!holds(to, s.content))
                            throw StepFailed(s.path, "its backup " + show(to) + " holds other content");
                        // A link + unlink rename cut short leaves both names.
                        if (t.capabilities().rename_may_leave_both && holds(s.path, s.content)) t.remove(s.path);
                        return done(s.path, to);
                    }
                    if (!state_.exists(s.path)) {
                        if (!s.other.empty() && holds(s.other, s.content)) return done(s.path, to);  // renamed on already
                        throw StepFailed(s.path, "it is missing and was not moved to the backup");
                    }
                }
                return rename(s.path, to, s.path);
            }
            case Kind::Rmdir: {
                if (resuming) {
                    auto st = t.stat(s.path);
                    if (!st || st->kind != transport::Kind::Directory) return touched(s.path);
                }
                t.remove(s.path);
                return touched(s.path);
            }
            case Kind::Mkdir: {
                if (resuming) {
                    auto st = t.stat(s.path);
                    if (st && st->kind == transport::Kind::Directory) return touched(s.path);
                    if (st) throw StepFailed(s.path, "something other than a folder is in its place");
                }
                t.mkdir(s.path);
                return touched(s.path);
            }
            case Kind::Place:
            case Kind::Move: {
                std::string from = s.kind == Kind::Place ? staged_file(id, s.staged) : backup_file(id, s.other);
                if (resuming) {
                    if (!state_.exists(from)) {
                        if (!holds(s.path, s.content))
                            throw StepFailed(s.path, "its new content is neither staged nor in place");
                        if (s.kind == Kind::Move) t.set_mtime(s.path, s.mtime_ns);
                        return done(from, s.path);
                    }
                    if (state_.exists(s.path)) {
                        // A link + unlink rename cut short leaves both names.
                        if (!t.capabilities().rename_may_leave_both || !holds(s.path, s.content))
                            throw StepFailed(s.path, "something was put in its place during the apply");
                        t.remove(from);
                        return done(from, s.path);
                    }
                }
                rename(from, s.path, s.path);
                if (s.kind == Kind::Move) t.set_mtime(s.path, s.mtime_ns);
                return;
            }
            case Kind::Unmkdir:
            case Kind::Unrmdir:
            case Kind::Tree:
            case Kind::In: return;  // undo only, or run by forward_tree
        }
    } catch (const StepFailed&) {
        throw;
    } catch (const transport::Error& e) {
        throw StepFailed(s.path, e.what());
    }
}

void Commit::backward(const Step& s) {
    auto& t = state_.transport();
    const std::string& id = journal_.apply_id();
    try {
        switch (s.kind) {
            case Kind::Place:
            case Kind::Move: {
                std::string back = s.kind == Kind::Place ? staged_file(id, s.staged) : backup_file(id, s.other);
                if (state_.exists(back)) {
                    // Never done, or a link + unlink rename cut short.
                    if (t.capabilities().rename_may_leave_both && holds(s.path, s.content)) t.remove(s.path);
                    return;
                }
                if (holds(s.path, s.content)) return rename(s.path, back, s.path);
                // A renamed file whose source was never moved to the backup:
                // the commit stopped before it, nothing of this step ran.
                if (s.kind == Kind::Move && holds(s.other, s.content)) return;
                // New content someone removed: the old state does not need it
                // (a renamed file's old content does, and is gone with it).
                if (s.kind == Kind::Place && !state_.exists(s.path)) return;
                throw StepFailed(s.path, "it holds content this apply did not put there (changed by hand during the "
                                         "apply); move it aside");
            }
            case Kind::Unmkdir: {
                // Not a folder: the file it replaced is back already (undoing
                // its backup, a later phase, ran before a crash); anything
                // foreign there stops that later step instead.
                auto st = t.stat(s.path);
                if (st && st->kind == transport::Kind::Directory) t.remove(s.path);
                return touched(s.path);
            }
            case Kind::Unrmdir: {
                auto st = t.stat(s.path);
                if (st && st->kind != transport::Kind::Directory)
                    throw StepFailed(s.path, "something other than a folder is where the removed folder was");
                if (!st) t.mkdir(s.path);
                return touched(s.path);
            }
            case Kind::Backup: {
                std::string from = backup_file(id, s.path);
                if (!state_.exists(from)) return;  // never moved
                if (t.capabilities().rename_may_leave_both && holds(s.path, s.content) && holds(from, s.content)) {
                    t.remove(from);  // moved back by a link + unlink rename cut short
                    return;
                }
                if (state_.exists(s.path))
                    throw StepFailed(s.path, "something was put in its place; move it aside (its old content is kept in " + show(from) + ")");
                rename(from, s.path, s.path);
                if (!s.other.empty()) t.set_mtime(s.path, s.mtime_ns);
                return;
            }
            case Kind::Rmdir:
            case Kind::Mkdir: return;  // undone through unrmdir and unmkdir
            case Kind::Tree:
            case Kind::In: return;  // run by backward_tree
        }
    } catch (const StepFailed&) {
        throw;
    } catch (const transport::Error& e) {
        throw StepFailed(s.path, e.what());
    }
}

// A folder moves whole or not at all, and its staged copy is in the locked
// state folder: when that copy is gone, the folder in place must hold what
// the in lines say, entry by entry (a hand edit meanwhile is not ours).
void Commit::forward_tree(const Step& tree, const boost::filesystem::path& items, bool resuming) {
    auto& t = state_.transport();
    const std::string from = staged_tree(journal_.apply_id(), tree.staged);
    try {
        if (resuming) {
            const bool staged = state_.exists(from);
            auto st = t.stat(tree.path);
            if (!staged) {
                if (!st || st->kind != transport::Kind::Directory)
                    throw StepFailed(tree.path, "its new folder is neither staged nor in place");
                manifest::LineReader in(items);
                std::string line;
                while (in.next(line)) {
                    Step item = decode_step(line);
                    if (!holds(item.path, item.content))
                        throw StepFailed(item.path, "its new content is neither staged nor in place");
                }
                return done(from, tree.path);
            }
            if (st) throw StepFailed(tree.path, "something was put in its place during the apply");
        }
        rename(from, tree.path, tree.path);
    } catch (const StepFailed&) {
        throw;
    } catch (const transport::Error& e) {
        throw StepFailed(tree.path, e.what());
    }
}

void Commit::backward_tree(const Step& tree, const boost::filesystem::path& items) {
    auto& t = state_.transport();
    const std::string back = staged_tree(journal_.apply_id(), tree.staged);
    try {
        if (state_.exists(back)) return;  // never moved
        auto st = t.stat(tree.path);
        if (!st) return;  // removed by someone: the old state does not need it
        if (st->kind != transport::Kind::Directory)
            throw StepFailed(tree.path, "something other than its new folder is there (changed by hand during the "
                                        "apply); move it aside");
        // Moving it back takes everything in it away with staging: only
        // what this apply put there may go (what is missing is not needed).
        if (auto foreign = foreign_in_tree(tree.path, items))
            throw StepFailed(*foreign, "it holds content this apply did not put there (changed by hand during the "
                                       "apply); move it aside");
        rename(tree.path, back, tree.path);
    } catch (const StepFailed&) {
        throw;
    } catch (const transport::Error& e) {
        throw StepFailed(tree.path, e.what());
    }
}

// Walks the folder in manifest order (each entry, then what it holds), next
// to the in lines, which come in the same order.
std::optional<std::string> Commit::foreign_in_tree(const std::string& root, const boost::filesystem::path& items) {
    auto& t = state_.transport();
    manifest::LineReader in(items);
    std::string line;
    std::optional<Step> item;
    auto next_item = [&] {
        item.reset();
        if (in.next(line)) item = decode_step(line);
    };
    next_item();
    std::vector<std::pair<std::vector<transport::DirEntry>, std::size_t>> stack;  // listings being walked
    std::vector<std::string> folders{root};
    stack.push_back({t.list(root), 0});
    while (!stack.empty()) {
        auto& [entries, at] = stack.back();
        if (at == entries.size()) {
            stack.pop_back();
            folders.pop_back();
            continue;
        }
        const transport::DirEntry e = entries[at++];
        const std::string path = folders.back() + "/" + e.name;
        while (item && manifest::compare_paths(item->path, path) < 0) next_item();  // gone: not needed
        if (!item || item->path != path) return path;
        const bool folder = e.stat.kind == transport::Kind::Directory;
        if (folder != (item->content.type == EntryType::Directory)) return path;
        if (!folder && !holds(path, item->content)) return path;
        next_item();
        if (folder) {
            auto listing = t.list(path);
            folders.push_back(path);
            stack.push_back({std::move(listing), 0});
        }
    }
    return std::nullopt;
}

}  // namespace exmsync::sync
