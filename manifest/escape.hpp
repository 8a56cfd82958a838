// Path escaping for line-based files: a path holds any byte but NUL, the
// files hold one record per line, so tab, newline, backslash, control bytes
// and bytes that are not UTF-8 are written as escapes and read back exactly.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace exmsync::manifest {

std::string escape_path(std::string_view raw);
// escape_path(raw) appended to `out`: the writers of per-file records call it
// once per file, without a string of their own each time.
void append_escaped_path(std::string& out, std::string_view raw);

// nullopt when `text` holds an unknown or truncated escape.
std::optional<std::string> unescape_path(std::string_view text);
// The same into `out`, reusing its storage; false (out unspecified) when
// `text` holds an unknown or truncated escape.
bool unescape_path_into(std::string_view text, std::string& out);

bool is_valid_utf8(std::string_view text);

// The tab-separated fields of a record line, as views into `line`, into
// `out` (the first out.size() of them). Returns how many fields the line has
// in all, so that a line with too many is told from one with the right
// number. For the readers, once per record: nothing is allocated.
template <std::size_t N>
std::size_t split_fields(std::string_view line, std::array<std::string_view, N>& out) {
    std::size_t count = 0;
    while (true) {
        const auto tab = line.find('\t');
        if (count < N) out[count] = line.substr(0, tab);
        ++count;
        if (tab == std::string_view::npos) return count;
        line.remove_prefix(tab + 1);
    }
}

}  // namespace exmsync::manifest
