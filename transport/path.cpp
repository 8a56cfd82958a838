#include "transport/path.hpp"

#include <algorithm>
#include <cstdio>

#include "transport/transport.hpp"

namespace exmsync::transport {
namespace {

// Why `path` is unacceptable, or nullptr when it is fine.
const char* path_problem(const std::string& path) {
    if (path.find('\0') != std::string::npos) return "it contains a NUL byte";
#ifdef _WIN32
    // A separator on Windows: inside a name it would be traversal.
    if (path.find('\\') != std::string::npos) return "it contains a backslash; use '/'";
#endif
    if (path.front() == '/') return "it is absolute; give it relative to the root";
    return nullptr;
}

const char* component_problem(const std::string& component) {
    if (component.empty()) return "it has an empty component (\"//\" or a trailing '/')";
    if (component == "." || component == "..") return "it has a '.' or '..' component";
    return nullptr;
}

[[noreturn]] void refuse(const std::string& target, const std::string& path, const char* why) {
    throw Error("target " + target + ": refusing path " + quote_path(path) + ": " + why);
}

}  // namespace

std::vector<std::string> split_path(const std::string& target, const std::string& path) {
    std::vector<std::string> components;
    if (path.empty()) return components;
    if (const char* why = path_problem(path)) refuse(target, path, why);
    std::string::size_type start = 0;
    while (true) {
        const auto slash = path.find('/', start);
        components.push_back(path.substr(start, slash - start));
        if (const char* why = component_problem(components.back())) refuse(target, path, why);
        if (slash == std::string::npos) break;
        start = slash + 1;
    }
    return components;
}

std::string quote_path(const std::string& path) {
    if (path.empty()) return "'' (the root)";
    std::string out = "'";
    for (const char c : path) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7f) {
            char escaped[5];
            std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
            out += escaped;
        } else {
            out += c;
        }
    }
    return out + "'";
}

bool WalkOrder::operator()(const std::string& a, const std::string& b) const {
    auto key = [](char c) { return c == '/' ? 0 : static_cast<unsigned char>(c) + 1; };
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                        [&](char x, char y) { return key(x) < key(y); });
}

}  // namespace exmsync::transport
