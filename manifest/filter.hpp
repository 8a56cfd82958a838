// Include and exclude globs of a sync set.
//
// Glob syntax: `*` any run of characters within one path component, `?` one
// character, `[abc]`, `[a-z]` and `[!abc]` classes, `**` as a whole component
// any number of components. A pattern without '/' matches the name at any
// depth (`*.tmp`); one with '/' matches the whole relative path, and a leading
// '/' is allowed. `\` is read as `/`, as Windows users write paths. Matching is
// ASCII case-insensitive because the targets are Windows and SMB servers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace exmsync::manifest {

class Glob {
public:
    // Throws Error naming the pattern when it is malformed.
    explicit Glob(std::string_view pattern);
    bool matches(std::string_view path) const;
    const std::string& text() const { return text_; }

private:
    std::string text_;
    std::vector<std::string> parts_;
    bool name_only_ = false;
};

class Filter {
public:
    static const std::vector<std::string>& default_excludes();

    Filter() : Filter({}, {}) {}
    // Throws Error naming the first malformed pattern.
    Filter(const std::vector<std::string>& includes, const std::vector<std::string>& excludes,
           bool use_default_excludes = true);

    // A directory is left out only by an exclude; a file also when includes
    // are given and none matches.
    bool excluded(std::string_view path, bool is_directory) const;

private:
    std::vector<Glob> includes_;
    std::vector<Glob> excludes_;
};

}  // namespace exmsync::manifest
