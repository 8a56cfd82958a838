#include "manifest/diff.hpp"

#include <algorithm>
#include <map>

namespace exmsync::manifest {
namespace {

void skip_inside(EntryStream& stream, const std::string& dir) {
    while (const Entry* e = stream.peek()) {
        if (!is_inside(e->path, dir)) return;
        stream.pop();
    }
}

// Turns each removed file whose exact content was added elsewhere into a
// rename; several candidates pair up in path order, so the result is stable.
void pair_renames(std::vector<Change>& changes) {
    std::map<std::pair<Hash128, std::uint64_t>, std::vector<std::size_t>> removed;
    for (std::size_t i = 0; i < changes.size(); ++i) {
        const auto& c = changes[i];
        if (c.kind == ChangeKind::Removed && c.before->type == EntryType::File)
            removed[{c.before->hash, c.before->size}].push_back(i);
    }
    if (removed.empty()) return;
    for (auto& list : removed) std::reverse(list.second.begin(), list.second.end());
    std::vector<bool> drop(changes.size(), false);
    for (auto& c : changes) {
        if (c.kind != ChangeKind::Added || c.after->type != EntryType::File) continue;
        auto it = removed.find({c.after->hash, c.after->size});
        if (it == removed.end() || it->second.empty()) continue;
        std::size_t from = it->second.back();
        it->second.pop_back();
        c.kind = ChangeKind::Renamed;
        c.before = changes[from].before;
        drop[from] = true;
    }
    std::vector<Change> kept;
    kept.reserve(changes.size());
    for (std::size_t i = 0; i < changes.size(); ++i)
        if (!drop[i]) kept.push_back(std::move(changes[i]));
    changes = std::move(kept);
}

}  // namespace

DiffResult diff_streams(EntryStream& a, EntryStream& b, const DiffOptions& options) {
    DiffResult result;
    result.root_a = a.root();
    result.root_b = b.root();
    if (result.root_a == result.root_b) {
        // Equal roots mean equal trees; still read both to the end so a
        // corrupt file is reported rather than trusted.
        while (a.peek()) a.pop();
        while (b.peek()) b.pop();
        return result;
    }
    auto& out = result.changes;
    while (true) {
        const Entry* ea = a.peek();
        const Entry* eb = b.peek();
        if (!ea && !eb) break;
        int order = !ea ? 1 : !eb ? -1 : compare_paths(ea->path, eb->path);
        if (order < 0) {
            out.push_back({ChangeKind::Removed, ea->path, *ea, std::nullopt});
            a.pop();
        } else if (order > 0) {
            out.push_back({ChangeKind::Added, eb->path, std::nullopt, *eb});
            b.pop();
        } else if (ea->type != eb->type) {
            out.push_back({ChangeKind::TypeChanged, ea->path, *ea, *eb});
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
                ++result.skipped_subtrees;
            }
        } else {
            if (ea->hash != eb->hash || ea->size != eb->size)
                out.push_back({ChangeKind::Modified, ea->path, *ea, *eb});
            a.pop();
            b.pop();
        }
    }
    if (options.detect_renames) pair_renames(out);
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
        case ChangeKind::TypeChanged: return "type-changed";
        case ChangeKind::Renamed: return "renamed";
    }
    return "unknown";
}

}  // namespace exmsync::manifest
