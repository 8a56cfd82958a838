#include "sync/touches.hpp"

#include <charconv>
#include <vector>

#include "manifest/escape.hpp"
#include "manifest/format.hpp"

namespace exmsync::sync {
namespace {

using manifest::Entry;
using manifest::EntryType;

constexpr std::size_t kMaxProblemsShown = 8;

std::string show(const std::string& path) { return "'" + manifest::escape_path(path) + "'"; }

[[noreturn]] void bad_record(std::string_view line) {
    throw Error("internal: bad touch record '" + std::string(line.substr(0, 200)) + "'");
}

std::vector<std::string_view> split(std::string_view line, std::size_t count) {
    std::vector<std::string_view> out;
    for (std::size_t i = 0; i + 1 < count; ++i) {
        auto tab = line.find('\t');
        if (tab == std::string_view::npos) bad_record(line);
        out.push_back(line.substr(0, tab));
        line.remove_prefix(tab + 1);
    }
    out.push_back(line);
    return out;
}

template <typename Int>
Int number(std::string_view text, std::string_view line) {
    Int value{};
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) bad_record(line);
    return value;
}

std::string raw(std::string_view escaped, std::string_view line) {
    auto path = manifest::unescape_path(escaped);
    if (!path) bad_record(line);
    return *path;
}

std::string type_letter(EntryType t) { return std::string(1, static_cast<char>(t)); }

// Rename sources sort by their own path, which an escaped text does not keep.
bool touch_less(std::string_view a, std::string_view b) {
    return manifest::compare_paths(raw(a.substr(0, a.find('\t')), a), raw(b.substr(0, b.find('\t')), b)) < 0;
}

const char* type_word(EntryType t) {
    switch (t) {
        case EntryType::File: return "a file";
        case EntryType::Directory: return "a folder";
        case EntryType::Symlink: return "a symlink";
    }
    return "?";
}

// Merges the removal and the creation the changeset makes at one path.
void merge_into(Touch& into, const Touch& other, const std::string& where) {
    if (other.before) {
        if (into.before) throw Error("changeset for " + where + ": " + show(into.path) + " is removed twice; it is damaged");
        into.before = other.before;
        into.moves_to = other.moves_to;
    }
    if (other.make != Touch::Make::Nothing) {
        if (into.make != Touch::Make::Nothing)
            throw Error("changeset for " + where + ": " + show(into.path) + " is written twice; it is damaged");
        into.make = other.make;
        into.size = other.size;
        into.hash = other.hash;
        into.mtime_ns = other.mtime_ns;
        into.staged = other.staged;
        into.moves_from = other.moves_from;
    }
}

// Checks each touch against the target's manifest, walking both in manifest
// order. Two stacks hold the ancestors of the current path: the folders that
// exist after the apply, and the folders the changeset removes.
class BaseCheck {
public:
    BaseCheck(const boost::filesystem::path& manifest, std::string target)
        : manifest_(manifest), target_(std::move(target)) {}

    void check(const Touch& t) {
        const Entry* e = nullptr;
        while ((e = manifest_.peek()) && manifest::compare_paths(e->path, t.path) < 0) {
            untouched(*e);
            manifest_.pop();
        }
        const Entry* here = e && e->path == t.path ? e : nullptr;
        touched(t, here);
        if (here) manifest_.pop();
    }

    void finish() {
        while (const Entry* e = manifest_.peek()) {
            untouched(*e);
            manifest_.pop();
        }
        if (problems_.empty()) return;
        std::string list;
        for (std::size_t i = 0; i < problems_.size() && i < kMaxProblemsShown; ++i)
            list += (i ? "; " : "") + problems_[i];
        if (problems_.size() > kMaxProblemsShown) list += "; and more";
        throw DriftError("target " + target_ + " is not in the state this changeset was made for (" + list +
                         "); nothing was changed: diff again and push, or pack a new changeset");
    }

private:
    void enter(const std::string& path) {
        while (!existing_.empty() && !manifest::is_inside(path, existing_.back())) existing_.pop_back();
        while (!removed_.empty() && !manifest::is_inside(path, removed_.back())) removed_.pop_back();
    }

    void untouched(const Entry& e) {
        enter(e.path);
        if (!removed_.empty())
            problem(show(e.path) + " is in folder " + show(removed_.back()) +
                    ", which the changeset removes, but the changeset does not remove it");
        if (e.type == EntryType::Directory) existing_.push_back(e.path);
    }

    void touched(const Touch& t, const Entry* here) {
        enter(t.path);
        if (t.before) {
            const Expect& want = *t.before;
            if (!here) problem(show(t.path) + " is missing");
            else if (here->type != want.type) problem(show(t.path) + " is no longer " + type_word(want.type));
            else if (want.type != EntryType::Directory && (here->size != want.size || here->hash != want.hash))
                problem(show(t.path) + " has other content");
        } else if (here) {
            problem(show(t.path) + " exists but the changeset creates it");
        }
        if (t.make != Touch::Make::Nothing) {
            std::string parent(manifest::parent_of(t.path));
            if (!parent.empty() && (existing_.empty() || existing_.back() != parent))
                problem("folder " + show(parent) + " is missing");
        }
        if (t.make == Touch::Make::Folder || (here && here->type == EntryType::Directory && !t.before))
            existing_.push_back(t.path);
        if (t.removes_folder()) removed_.push_back(t.path);
    }

    void problem(std::string text) {
        if (problems_.size() <= kMaxProblemsShown) problems_.push_back(std::move(text));
    }

    manifest::ManifestReader manifest_;
    std::string target_;
    std::vector<std::string> existing_, removed_;
    std::vector<std::string> problems_;
};

// A new folder can be staged whole when everything inside it is new content
// written by this changeset: no configuration file (those are committed
// last, one by one), nothing renamed in, nothing removed or replaced.
bool fits_in_tree(const Touch& t) {
    if (t.before) return false;
    if (t.make == Touch::Make::Folder) return true;
    return t.make == Touch::Make::Write && !is_config_path(t.path);
}

// The new folders that fit whole, found in one pass over the touch list: a
// stack holds the new folders around the current path, each still fitting
// or not, and each is judged when its subtree ends. Folders inside another
// that fits are dropped later, so the list is sorted into manifest order.
class TreeFinder {
public:
    void add(const Touch& t) {
        leave_up_to(t.path);
        for (auto& open : open_)
            if (!fits_in_tree(t)) open.fits = false;
        if (t.make == Touch::Make::Folder) open_.push_back({t.path, true});
    }
    void finish() { leave_up_to(""); }
    manifest::ExternalSorter& fitting() { return fitting_; }

private:
    void leave_up_to(const std::string& path) {
        while (!open_.empty() && (path.empty() || !manifest::is_inside(path, open_.back().path))) {
            if (open_.back().fits) fitting_.add(manifest::escape_path(open_.back().path));
            open_.pop_back();
        }
    }
    struct Open {
        std::string path;
        bool fits;
    };
    std::vector<Open> open_;
    manifest::ExternalSorter fitting_{[](std::string_view a, std::string_view b) {
        return manifest::compare_paths(*manifest::unescape_path(a), *manifest::unescape_path(b)) < 0;
    }};
};

}  // namespace

std::string encode_touch(const Touch& t) {
    std::string before = "-";
    if (t.before) before = type_letter(t.before->type) + " " + std::to_string(t.before->size) + " " + t.before->hash.hex();
    return manifest::escape_path(t.path) + "\t" + before + "\t" + manifest::escape_path(t.moves_to) + "\t" +
           static_cast<char>(t.make) + "\t" + std::to_string(t.size) + "\t" + t.hash.hex() + "\t" +
           std::to_string(t.mtime_ns) + "\t" + std::to_string(t.staged) + "\t" + manifest::escape_path(t.moves_from) +
           "\t" + std::to_string(t.tree) + "\t" + manifest::escape_path(t.tree_root);
}

Touch decode_touch(std::string_view line) {
    auto f = split(line, 11);
    Touch t;
    t.path = raw(f[0], line);
    if (f[1] != "-") {
        auto s1 = f[1].find(' '), s2 = f[1].rfind(' ');
        if (f[1].size() < 3 || s1 == s2) bad_record(line);
        auto hash = manifest::Hash128::from_hex(f[1].substr(s2 + 1));
        if (!hash) bad_record(line);
        t.before = Expect{static_cast<EntryType>(f[1][0]), number<std::uint64_t>(f[1].substr(s1 + 1, s2 - s1 - 1), line),
                          *hash};
    }
    t.moves_to = raw(f[2], line);
    if (f[3].size() != 1) bad_record(line);
    t.make = static_cast<Touch::Make>(f[3][0]);
    t.size = number<std::uint64_t>(f[4], line);
    auto hash = manifest::Hash128::from_hex(f[5]);
    if (!hash) bad_record(line);
    t.hash = *hash;
    t.mtime_ns = number<std::int64_t>(f[6], line);
    t.staged = number<std::uint64_t>(f[7], line);
    t.moves_from = raw(f[8], line);
    t.tree = number<std::uint64_t>(f[9], line);
    t.tree_root = raw(f[10], line);
    return t;
}

bool TouchReader::next(Touch& touch) {
    if (!in_.next(line_)) return false;
    touch = decode_touch(line_);
    return true;
}

void build_touches(const boost::filesystem::path& ops, const ChangesetHeader& header,
                   const boost::filesystem::path& base_manifest, const boost::filesystem::path& out,
                   const std::string& target) {
    // Pass 1: one touch per path in operation order, and the rename sources
    // sorted by their own paths.
    manifest::TempFile primary;
    manifest::ExternalSorter sources(touch_less);
    {
        manifest::LineWriter writer(primary.path());
        OpListReader reader(ops, header, "for " + target);
        std::optional<Touch> pending;
        std::uint64_t writes = 0;
        Op op;
        while (reader.next(op)) {
            Touch t;
            t.path = op.path;
            if (op.kind == OpKind::Rename) {
                Touch source;
                source.path = op.from;
                source.before = op.base;
                source.moves_to = op.path;
                sources.add(encode_touch(source));
                t.make = Touch::Make::Move;
                t.moves_from = op.from;
            } else if (op.kind == OpKind::Delete || op.kind == OpKind::Rmdir) {
                t.before = op.base;
            } else if (op.kind == OpKind::Mkdir) {
                t.make = Touch::Make::Folder;
            } else {
                t.before = op.base;
                t.make = Touch::Make::Write;
                t.staged = writes++;
            }
            if (op.kind == OpKind::Write || op.kind == OpKind::Rename) {
                t.size = op.size;
                t.hash = op.hash;
                t.mtime_ns = op.mtime_ns;
            }
            if (pending && pending->path == t.path) {
                merge_into(*pending, t, target);
                continue;
            }
            if (pending) writer.add(encode_touch(*pending));
            pending = std::move(t);
        }
        if (pending) writer.add(encode_touch(*pending));
        writer.close();
    }
    // Pass 2: both merged, and checked against the target's manifest.
    manifest::TempFile merged;
    manifest::LineWriter writer(merged.path());
    BaseCheck base(base_manifest, target);
    TreeFinder trees;
    TouchReader main(primary.path());
    Touch next;
    bool has_main = main.next(next);
    std::optional<Touch> held;  // the touch being assembled at one path
    auto emit = [&] {
        if (!held) return;
        base.check(*held);
        trees.add(*held);
        writer.add(encode_touch(*held));
        held.reset();
    };
    auto take = [&](Touch t) {
        if (held && held->path == t.path) return merge_into(*held, t, target);
        emit();
        held = std::move(t);
    };
    sources.finish([&](std::string_view line) {
        Touch source = decode_touch(line);
        while (has_main && manifest::compare_paths(next.path, source.path) <= 0) {
            take(next);
            has_main = main.next(next);
        }
        take(std::move(source));
    });
    while (has_main) {
        take(next);
        has_main = main.next(next);
    }
    emit();
    base.finish();
    writer.close();
    trees.finish();

    // Pass 3: each touch inside a folder that fits whole, and not inside
    // another that does, is marked with it.
    manifest::TempFile fitting;
    trees.fitting().finish(fitting.path());
    manifest::LineReader roots(fitting.path());
    std::string root_line;
    std::optional<std::string> next_root;
    auto advance = [&] {
        next_root.reset();
        if (roots.next(root_line)) next_root = raw(root_line, root_line);
    };
    advance();
    manifest::LineWriter marked(out);
    TouchReader all(merged.path());
    std::string root;
    std::uint64_t count = 0;
    Touch t;
    while (all.next(t)) {
        if (!root.empty() && !manifest::is_inside(t.path, root)) root.clear();
        while (next_root && manifest::compare_paths(*next_root, t.path) < 0) advance();  // inside `root`
        if (root.empty() && next_root && *next_root == t.path) {
            root = t.path;
            ++count;
            advance();
        }
        if (!root.empty()) {
            t.tree = count;
            t.tree_root = root;
        }
        marked.add(encode_touch(t));
    }
    marked.close();
}

}  // namespace exmsync::sync
