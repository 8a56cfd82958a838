#include "manifest/entry.hpp"

#include <cstdio>

namespace exmsync::manifest {

std::string Hash128::hex() const {
    char text[33];
    std::snprintf(text, sizeof text, "%016llx%016llx", static_cast<unsigned long long>(high),
                  static_cast<unsigned long long>(low));
    return std::string(text, 32);
}

std::optional<Hash128> Hash128::from_hex(std::string_view text) {
    if (text.size() != 32) return std::nullopt;
    Hash128 hash;
    for (std::size_t i = 0; i < 32; ++i) {
        char c = text[i];
        unsigned digit;
        if (c >= '0' && c <= '9') digit = c - '0';
        else if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
        else return std::nullopt;  // uppercase is refused: the format is canonical
        std::uint64_t& half = i < 16 ? hash.high : hash.low;
        half = (half << 4) | digit;
    }
    return hash;
}

const char* type_name(EntryType type) {
    switch (type) {
        case EntryType::File: return "file";
        case EntryType::Directory: return "directory";
        case EntryType::Symlink: return "symlink";
    }
    return "unknown";
}

int compare_paths(std::string_view a, std::string_view b) {
    std::size_t n = a.size() < b.size() ? a.size() : b.size();
    for (std::size_t i = 0; i < n; ++i) {
        auto ca = static_cast<unsigned char>(a[i]);
        auto cb = static_cast<unsigned char>(b[i]);
        if (ca == cb) continue;
        if (ca == '/') return -1;
        if (cb == '/') return 1;
        return ca < cb ? -1 : 1;
    }
    if (a.size() == b.size()) return 0;
    return a.size() < b.size() ? -1 : 1;
}

bool is_inside(std::string_view path, std::string_view dir) {
    if (dir.empty()) return !path.empty();
    return path.size() > dir.size() && path[dir.size()] == '/' && path.substr(0, dir.size()) == dir;
}

std::string_view parent_of(std::string_view path) {
    auto slash = path.rfind('/');
    return slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
}

std::string_view name_of(std::string_view path) {
    auto slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string path_problem(std::string_view path) {
    if (path.empty()) return "empty path";
    if (path.front() == '/') return "absolute path";
    std::size_t start = 0;
    while (true) {
        auto slash = path.find('/', start);
        auto part = path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
        if (part.empty()) return "empty path component";
        if (part == "." || part == "..") return "'" + std::string(part) + "' path component";
        if (part.find('\0') != std::string_view::npos) return "NUL byte in path";
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    return {};
}

}  // namespace exmsync::manifest
