#include "manifest/filter.hpp"

#include "manifest/entry.hpp"
#include "manifest/error.hpp"

namespace exmsync::manifest {
namespace {

char fold(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Matches a [...] class at pattern[p] (just after '['); advances p past ']'.
bool match_class(std::string_view pattern, std::size_t& p, char c) {
    bool negate = p < pattern.size() && (pattern[p] == '!' || pattern[p] == '^');
    if (negate) ++p;
    bool matched = false;
    bool first = true;
    while (p < pattern.size() && (first || pattern[p] != ']')) {
        first = false;
        char lo = pattern[p];
        char hi = lo;
        if (p + 2 < pattern.size() && pattern[p + 1] == '-' && pattern[p + 2] != ']') {
            hi = pattern[p + 2];
            p += 2;
        }
        ++p;
        if (fold(c) >= fold(lo) && fold(c) <= fold(hi)) matched = true;
    }
    ++p;  // the ']'; validated when the glob was built
    return matched != negate;
}

bool match_component(std::string_view pattern, std::string_view name) {
    std::size_t p = 0, n = 0;
    std::size_t star_p = std::string_view::npos, star_n = 0;
    while (n < name.size()) {
        if (p < pattern.size()) {
            char pc = pattern[p];
            if (pc == '*') {
                star_p = ++p;
                star_n = n;
                continue;
            }
            if (pc == '?') {
                ++p;
                ++n;
                continue;
            }
            if (pc == '[') {
                std::size_t q = p + 1;
                if (match_class(pattern, q, name[n])) {
                    p = q;
                    ++n;
                    continue;
                }
            } else if (fold(pc) == fold(name[n])) {
                ++p;
                ++n;
                continue;
            }
        }
        if (star_p == std::string_view::npos) return false;
        p = star_p;
        n = ++star_n;
    }
    while (p < pattern.size() && pattern[p] == '*') ++p;
    return p == pattern.size();
}

std::vector<std::string_view> split(std::string_view path) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    while (start <= path.size()) {
        auto slash = path.find('/', start);
        if (slash == std::string_view::npos) slash = path.size();
        parts.push_back(path.substr(start, slash - start));
        start = slash + 1;
    }
    return parts;
}

bool match_parts(const std::vector<std::string>& pattern, std::size_t p,
                 const std::vector<std::string_view>& path, std::size_t n) {
    while (p < pattern.size()) {
        if (pattern[p] == "**") {
            if (p + 1 == pattern.size()) return true;
            for (std::size_t skip = n; skip <= path.size(); ++skip)
                if (match_parts(pattern, p + 1, path, skip)) return true;
            return false;
        }
        if (n == path.size() || !match_component(pattern[p], path[n])) return false;
        ++p;
        ++n;
    }
    return n == path.size();
}

void validate(std::string_view pattern, std::string_view original) {
    if (pattern.empty()) throw Error("empty glob; give a pattern such as '*.tmp'");
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        if (pattern[i] != '[') continue;
        std::size_t j = i + 1;
        if (j < pattern.size() && (pattern[j] == '!' || pattern[j] == '^')) ++j;
        if (j < pattern.size() && pattern[j] == ']') ++j;  // a leading ']' is literal
        while (j < pattern.size() && pattern[j] != ']' && pattern[j] != '/') ++j;
        if (j >= pattern.size() || pattern[j] != ']')
            throw Error("bad glob '" + std::string(original) + "': '[' at column " + std::to_string(i + 1) +
                        " is never closed; write '[[]' for a literal '['");
        i = j;
    }
}

}  // namespace

Glob::Glob(std::string_view pattern) : text_(pattern) {
    std::string normal(pattern);
    for (char& c : normal)
        if (c == '\\') c = '/';
    while (!normal.empty() && normal.front() == '/') normal.erase(0, 1);
    while (!normal.empty() && normal.back() == '/') normal.pop_back();
    validate(normal, pattern);
    name_only_ = normal.find('/') == std::string::npos && normal != "**";
    for (auto part : split(normal)) parts_.emplace_back(part);
    if (text_.find('/') != std::string::npos || text_.find('\\') != std::string::npos) name_only_ = false;
}

bool Glob::matches(std::string_view path) const {
    if (name_only_) return match_component(parts_.front(), name_of(path));
    return match_parts(parts_, 0, split(path), 0);
}

const std::vector<std::string>& Filter::default_excludes() {
    static const std::vector<std::string> defaults = {"Thumbs.db", "desktop.ini", "~$*", "*.tmp"};
    return defaults;
}

Filter::Filter(const std::vector<std::string>& includes, const std::vector<std::string>& excludes,
               bool use_default_excludes) {
    for (const auto& g : includes) includes_.emplace_back(g);
    for (const auto& g : excludes) excludes_.emplace_back(g);
    if (use_default_excludes)
        for (const auto& g : default_excludes()) excludes_.emplace_back(g);
}

bool Filter::excluded(std::string_view path, bool is_directory) const {
    for (const auto& g : excludes_)
        if (g.matches(path)) return true;
    if (is_directory || includes_.empty()) return false;
    for (const auto& g : includes_)
        if (g.matches(path)) return false;
    return true;
}

}  // namespace exmsync::manifest
