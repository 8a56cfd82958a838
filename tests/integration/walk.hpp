// A walk of a whole tree through a Transport, as a scan makes it, for the
// listing-ahead tests of the SFTP and SMB backends.
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "transport/transport.hpp"

namespace exmsync::testing {

// Every entry under `dir`, depth first, one line each; with `ahead`, each
// folder's subfolders are hinted as soon as it is listed, as a scan does.
// Folders named "skipped" are not gone into, as a scan leaves out an
// excluded folder (a lister may have guessed them all the same).
inline void walk(transport::Transport& t, const std::string& dir, bool ahead, std::ostringstream& out) {
    auto children = t.list(dir);
    std::vector<std::string> folders;
    auto enters = [](const transport::DirEntry& c) {
        return c.stat.kind == transport::Kind::Directory && c.name != "skipped";
    };
    for (const auto& c : children)
        if (enters(c)) folders.push_back(dir.empty() ? c.name : dir + "/" + c.name);
    if (ahead && !folders.empty()) t.list_ahead(folders);
    for (const auto& c : children) {
        std::string path = dir.empty() ? c.name : dir + "/" + c.name;
        out << path << ' ' << static_cast<int>(c.stat.kind) << ' ' << c.stat.size << ' ' << c.stat.mtime_ns << '\n';
        if (enters(c)) walk(t, path, ahead, out);
    }
}

inline std::string walked(transport::Transport& t, bool ahead) {
    std::ostringstream out;
    walk(t, "", ahead, out);
    return out.str();
}

// "" when equal, else the first line where they part (a whole walk is too long to print).
inline std::string first_difference(const std::string& a, const std::string& b) {
    std::istringstream x(a), y(b);
    std::string p, q;
    while (true) {
        const bool more_x = static_cast<bool>(std::getline(x, p)), more_y = static_cast<bool>(std::getline(y, q));
        if (!more_x && !more_y) return "";
        if (!more_x || !more_y || p != q)
            return "'" + (more_x ? p : "(end)") + "' where the other has '" + (more_y ? q : "(end)") + "'";
    }
}

}  // namespace exmsync::testing
