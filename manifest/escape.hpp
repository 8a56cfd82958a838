// Path escaping for line-based files: a path holds any byte but NUL, the
// files hold one record per line, so tab, newline, backslash, control bytes
// and bytes that are not UTF-8 are written as escapes and read back exactly.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace exmsync::manifest {

std::string escape_path(std::string_view raw);

// nullopt when `text` holds an unknown or truncated escape.
std::optional<std::string> unescape_path(std::string_view text);

bool is_valid_utf8(std::string_view text);

}  // namespace exmsync::manifest
