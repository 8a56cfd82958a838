#include "manifest/diff.hpp"

#include <charconv>
#include <cstdio>

#include "manifest/error.hpp"
#include "manifest/escape.hpp"
#include "manifest/sorted_file.hpp"

namespace exmsync::manifest {
namespace {

void skip_inside(EntryStream& stream, const std::string& dir) {
    while (const Entry* e = stream.peek()) {
        if (!is_inside(e->path, dir)) return;
        stream.pop();
    }
}

// The merge-join itself: every change in manifest order, renames not yet paired.
DiffSummary merge_join(EntryStream& a, EntryStream& b, const ChangeSink& sink) {
    DiffSummary summary;
    summary.root_a = a.root();
    summary.root_b = b.root();
    if (summary.root_a == summary.root_b) {
        // Equal roots mean equal trees; still read both to the end so a
        // corrupt file is reported rather than trusted.
        while (a.peek()) a.pop();
        while (b.peek()) b.pop();
        return summary;
    }
    while (true) {
        const Entry* ea = a.peek();
        const Entry* eb = b.peek();
        if (!ea && !eb) break;
        int order = !ea ? 1 : !eb ? -1 : compare_paths(ea->path, eb->path);
        if (order < 0) {
            sink({ChangeKind::Removed, ea->path, *ea, std::nullopt});
            a.pop();
        } else if (order > 0) {
            sink({ChangeKind::Added, eb->path, std::nullopt, *eb});
            b.pop();
        } else if (ea->type != eb->type) {
            sink({ChangeKind::TypeChanged, ea->path, *ea, *eb});
            a.pop();
            b.pop();
        } else if (ea->type == EntryType::Directory) {
            bool equal = ea->hash == eb->hash;
            std::string dir = ea->path;
            a.pop();
            b.pop();
            if (equal) {
                skip_inside(a, dir);
                skip_inside(b, dir);
                ++summary.skipped_subtrees;
            }
        } else {
            if (ea->hash != eb->hash || ea->size != eb->size) sink({ChangeKind::Modified, ea->path, *ea, *eb});
            a.pop();
            b.pop();
        }
    }
    return summary;
}

// ---- records for the temporary files of rename detection ----
//
// A change:  kind TAB before TAB after TAB escaped path, where a side is
//            "type size hash" or "-" when absent.
// A content: hash TAB size (20 digits) TAB sequence (20 digits), so that byte
//            order is (content, then manifest order of the change).
// A pair:    sequence TAB type size hash TAB escaped path of the other side.

std::string padded(std::uint64_t n) {
    char text[24];
    std::snprintf(text, sizeof text, "%020llu", static_cast<unsigned long long>(n));
    return text;
}

std::string side_text(const std::optional<Entry>& e) {
    if (!e) return "-";
    return std::string(1, static_cast<char>(e->type)) + " " + std::to_string(e->size) + " " + e->hash.hex();
}

std::uint64_t number(std::string_view text) {
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) throw Error("internal: bad number in a diff record");
    return value;
}

std::optional<Entry> side_entry(std::string_view text, const std::string& path) {
    if (text == "-") return std::nullopt;
    auto space1 = text.find(' '), space2 = text.rfind(' ');
    auto hash = Hash128::from_hex(text.substr(space2 + 1));
    if (text.size() < 3 || space1 == space2 || !hash) throw Error("internal: bad side in a diff record");
    return Entry{path, static_cast<EntryType>(text[0]), number(text.substr(space1 + 1, space2 - space1 - 1)), *hash};
}

std::vector<std::string_view> fields(std::string_view line, std::size_t count) {
    std::vector<std::string_view> out;
    for (std::size_t i = 0; i + 1 < count; ++i) {
        auto tab = line.find('\t');
        if (tab == std::string_view::npos) throw Error("internal: short diff record");
        out.push_back(line.substr(0, tab));
        line.remove_prefix(tab + 1);
    }
    out.push_back(line);
    return out;
}

std::string raw_path(std::string_view escaped) {
    auto path = unescape_path(escaped);
    if (!path) throw Error("internal: bad path in a diff record");
    return *path;
}

std::string change_record(const Change& c) {
    return std::string(1, static_cast<char>('0' + static_cast<int>(c.kind))) + "\t" + side_text(c.before) + "\t" +
           side_text(c.after) + "\t" + escape_path(c.path);
}

Change parse_change(std::string_view line) {
    auto f = fields(line, 4);
    std::string path = raw_path(f[3]);
    return {static_cast<ChangeKind>(f[0][0] - '0'), path, side_entry(f[1], path), side_entry(f[2], path)};
}

std::string content_key(const Entry& e, std::uint64_t sequence) {
    return e.hash.hex() + "\t" + padded(e.size) + "\t" + padded(sequence);
}

bool bytes_less(std::string_view a, std::string_view b) { return a < b; }

// Reads sorted pair records one at a time, by sequence number.
class PairCursor {
public:
    explicit PairCursor(const boost::filesystem::path& file) : reader_(file) { advance(); }
    // The pair for change `sequence`, if this is the one; advances past it.
    std::optional<std::string> take(std::uint64_t sequence) {
        if (!has_ || next_ != sequence) return std::nullopt;
        std::string rest = rest_;
        advance();
        return rest;
    }

private:
    void advance() {
        has_ = reader_.next(line_);
        if (!has_) return;
        auto tab = line_.find('\t');
        next_ = number(std::string_view(line_).substr(0, tab));
        rest_ = line_.substr(tab + 1);
    }
    LineReader reader_;
    std::string line_, rest_;
    std::uint64_t next_ = 0;
    bool has_ = false;
};

// Pairs removed and added files of equal content: within one content, the
// first removed (in manifest order) with the first added, and so on, so the
// result does not depend on anything but the two manifests.
void pair_contents(const boost::filesystem::path& removed, const boost::filesystem::path& added,
                   ExternalSorter& new_side, ExternalSorter& old_side, const boost::filesystem::path& changes) {
    // The entry of each removed file, to hand to its rename: looked up by
    // sequence from the change file in a second sorted pass.
    ExternalSorter wanted(bytes_less);
    LineReader r(removed), a(added);
    std::string rl, al;
    bool has_r = r.next(rl), has_a = a.next(al);
    while (has_r && has_a) {
        auto rk = rl.substr(0, 53), ak = al.substr(0, 53);  // hash TAB size
        if (rk < ak) {
            has_r = r.next(rl);
        } else if (ak < rk) {
            has_a = a.next(al);
        } else {
            // old sequence TAB new sequence
            wanted.add(rl.substr(54) + "\t" + al.substr(54));
            has_r = r.next(rl);
            has_a = a.next(al);
        }
    }
    LineReader all(changes);
    std::string line;
    std::uint64_t sequence = 0;
    bool has_change = all.next(line);
    wanted.finish([&](std::string_view pair) {
        std::uint64_t old_sequence = number(pair.substr(0, 20));
        while (has_change && sequence < old_sequence) {
            has_change = all.next(line);
            ++sequence;
        }
        if (!has_change) throw Error("internal: rename pairing lost its change");
        Change gone = parse_change(line);
        new_side.add(std::string(pair.substr(21)) + "\t" + side_text(gone.before) + "\t" + escape_path(gone.path));
        old_side.add(std::string(pair.substr(0, 20)));
    });
}

// A file of records, sorted into `out`.
void sort_file(const boost::filesystem::path& in, const boost::filesystem::path& out) {
    ExternalSorter sorter(bytes_less);
    LineReader reader(in);
    std::string line;
    while (reader.next(line)) sorter.add(line);
    sorter.finish(out);
}

DiffSummary diff_with_renames(EntryStream& a, EntryStream& b, const ChangeSink& sink) {
    // Keys go to plain files first: a first push (nothing removed) or a
    // clean-up (nothing added) has no renames, and then sorts nothing.
    TempFile changes, removed_keys, added_keys, removed, added;
    LineWriter out(changes.path()), removed_out(removed_keys.path()), added_out(added_keys.path());
    std::uint64_t sequence = 0;
    DiffSummary summary = merge_join(a, b, [&](const Change& c) {
        if (c.kind == ChangeKind::Removed && c.before->type == EntryType::File)
            removed_out.add(content_key(*c.before, sequence));
        if (c.kind == ChangeKind::Added && c.after->type == EntryType::File)
            added_out.add(content_key(*c.after, sequence));
        out.add(change_record(c));
        ++sequence;
    });
    for (auto* w : {&out, &removed_out, &added_out}) w->close();

    TempFile new_pairs, old_pairs;
    {
        ExternalSorter new_side(bytes_less), old_side(bytes_less);
        if (removed_out.count() > 0 && added_out.count() > 0) {
            sort_file(removed_keys.path(), removed.path());
            sort_file(added_keys.path(), added.path());
            pair_contents(removed.path(), added.path(), new_side, old_side, changes.path());
        }
        new_side.finish(new_pairs.path());
        old_side.finish(old_pairs.path());
    }

    PairCursor renamed_to(new_pairs.path()), renamed_from(old_pairs.path());
    LineReader replay(changes.path());
    std::string line;
    for (std::uint64_t i = 0; replay.next(line); ++i) {
        if (renamed_from.take(i)) continue;
        Change c = parse_change(line);
        if (auto pair = renamed_to.take(i)) {
            auto f = fields(*pair, 2);
            c.kind = ChangeKind::Renamed;
            c.before = side_entry(f[0], raw_path(f[1]));
        }
        sink(c);
        ++summary.change_count;
    }
    return summary;
}

}  // namespace

DiffSummary diff_streams(EntryStream& a, EntryStream& b, const DiffOptions& options, const ChangeSink& sink) {
    if (options.detect_renames) return diff_with_renames(a, b, sink);
    std::uint64_t count = 0;
    DiffSummary summary = merge_join(a, b, [&](const Change& c) {
        sink(c);
        ++count;
    });
    summary.change_count = count;
    return summary;
}

DiffResult diff_all(EntryStream& a, EntryStream& b, const DiffOptions& options) {
    DiffResult result;
    static_cast<DiffSummary&>(result) =
        diff_streams(a, b, options, [&](const Change& c) { result.changes.push_back(c); });
    return result;
}

const char* change_code(ChangeKind kind) {
    switch (kind) {
        case ChangeKind::Added: return "A ";
        case ChangeKind::Removed: return "D ";
        case ChangeKind::Modified: return "M ";
        case ChangeKind::TypeChanged: return "T ";
        case ChangeKind::Renamed: return "R ";
    }
    return "? ";
}

const char* change_name(ChangeKind kind) {
    switch (kind) {
        case ChangeKind::Added: return "added";
        case ChangeKind::Removed: return "removed";
        case ChangeKind::Modified: return "modified";
        case ChangeKind::TypeChanged: return "type_changed";
        case ChangeKind::Renamed: return "renamed";
    }
    return "unknown";
}

}  // namespace exmsync::manifest
