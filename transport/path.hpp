// Checking and splitting transport paths, shared by every backend so that a
// path is refused the same way whatever the target.
#pragma once

#include <string>
#include <vector>

namespace exmsync::transport {

// Splits a relative '/'-separated path into its components; "" (the root)
// gives none. Throws Error naming `target` and the path when a component is
// empty, "." or "..", or the path starts with '/', or holds a '\' or a NUL.
std::vector<std::string> split_path(const std::string& target, const std::string& path);

// The path as a message shows it: quoted, with control bytes as \xNN so that
// a hostile name cannot break the one-line message or forge another.
std::string quote_path(const std::string& path);

// Paths in the order of a depth-first walk with siblings sorted by name:
// '/' before every other byte. The listers fetch folders in this order, and
// a walk never comes back to what lies before the folder it asks for.
struct WalkOrder {
    bool operator()(const std::string& a, const std::string& b) const;
};

}  // namespace exmsync::transport
