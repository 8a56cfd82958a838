#include "manifest/entry.hpp"

#include <algorithm>
#include <array>

namespace exmsync::manifest {

std::string Hash128::hex() const {
    std::string text;
    append_hex(text);
    return text;
}

void Hash128::append_hex(std::string& out) const {
    static const char digits[] = "0123456789abcdef";
    char text[32];
    for (int i = 0; i < 16; ++i) {
        text[15 - i] = digits[(high >> (4 * i)) & 15];
        text[31 - i] = digits[(low >> (4 * i)) & 15];
    }
    out.append(text, sizeof text);
}

std::optional<Hash128> Hash128::from_hex(std::string_view text) {
    if (text.size() != 32) return std::nullopt;
    // Uppercase is refused: the format is canonical.
    static const auto table = [] {
        std::array<signed char, 256> t{};
        t.fill(-1);
        for (int d = 0; d < 10; ++d) t['0' + d] = static_cast<signed char>(d);
        for (int d = 0; d < 6; ++d) t['a' + d] = static_cast<signed char>(10 + d);
        return t;
    }();
    Hash128 hash;
    for (std::size_t i = 0; i < 32; ++i) {
        int digit = table[static_cast<unsigned char>(text[i])];
        if (digit < 0) return std::nullopt;
        std::uint64_t& half = i < 16 ? hash.high : hash.low;
        half = (half << 4) | static_cast<unsigned>(digit);
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
    auto diff = std::mismatch(a.data(), a.data() + n, b.data());
    if (diff.first != a.data() + n) {
        auto ca = static_cast<unsigned char>(*diff.first);
        auto cb = static_cast<unsigned char>(*diff.second);
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

bool is_state_folder_name(std::string_view name) {
    std::string_view state = kStateFolder;
    if (name.size() != state.size()) return false;
    for (std::size_t i = 0; i < name.size(); ++i) {
        char c = name[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != state[i]) return false;
    }
    return true;
}

bool touches_state_folder(std::string_view path) {
    while (true) {
        auto slash = path.find('/');
        if (is_state_folder_name(path.substr(0, slash))) return true;
        if (slash == std::string_view::npos) return false;
        path.remove_prefix(slash + 1);
    }
}

}  // namespace exmsync::manifest
