#include "manifest/names.hpp"

#include <utf8proc.h>

#include <array>
#include <cstdlib>

#include "manifest/escape.hpp"

namespace exmsync::manifest {
namespace {

bool is_reserved_device(std::string_view name) {
    // Windows reserves these names with any extension: nul.txt is NUL.
    // Checked for every file on every scan, so without building a string.
    std::string_view stem = name.substr(0, name.find('.'));
    while (!stem.empty() && stem.back() == ' ') stem.remove_suffix(1);
    if (stem.size() < 3 || stem.size() > 4) return false;
    auto upper = [&](std::size_t i) {
        char c = stem[i];
        return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
    };
    char head[3] = {upper(0), upper(1), upper(2)};
    std::string_view three(head, 3);
    if (stem.size() == 3) return three == "CON" || three == "PRN" || three == "AUX" || three == "NUL";
    return (three == "COM" || three == "LPT") && stem[3] >= '1' && stem[3] <= '9';
}

std::string normalize(std::string_view name, utf8proc_option_t options) {
    utf8proc_uint8_t* out = nullptr;
    auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(name.data()),
                          static_cast<utf8proc_ssize_t>(name.size()), &out, options);
    if (n < 0) return std::string(name);
    std::string result(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
    std::free(out);
    return result;
}

}  // namespace

std::string windows_name_problem(std::string_view name) {
    if (is_reserved_device(name)) return "is a reserved device name on Windows (CON, PRN, AUX, NUL, COM1-9, LPT1-9)";
    if (name.back() == '.' || name.back() == ' ') return "ends with a dot or space, which Windows drops";
    static const auto refused = [] {
        std::array<bool, 256> t{};
        for (int c = 0; c < 0x20; ++c) t[c] = true;
        for (unsigned char c : std::string_view(":\\<>\"|?*")) t[c] = true;
        return t;
    }();
    for (char c : name) {
        if (!refused[static_cast<unsigned char>(c)]) continue;
        if (static_cast<unsigned char>(c) < 0x20) return "holds a control character, which Windows refuses";
        if (c == ':') return "holds ':', which Windows reads as an alternate data stream or a drive";
        if (c == '\\') return "holds '\\', which Windows reads as a folder separator";
        return std::string("holds '") + c + "', which Windows refuses";
    }
    return {};
}

std::string windows_name_key(std::string_view name) {
    bool ascii = true;
    for (char c : name) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
    if (ascii) {  // the common case, without Unicode tables
        std::string key(name);
        for (char& c : key)
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        return key;
    }
    if (!is_valid_utf8(name)) return std::string(name);
    return normalize(name, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD));
}

void NameChecker::add(const Entry& entry) {
    while (stack_.size() > 1 && !is_inside(entry.path, stack_.back().path)) stack_.pop_back();
    std::string_view name = name_of(entry.path);
    if (auto problem = windows_name_problem(name); !problem.empty())
        note("'" + escape_path(entry.path) + "' " + problem);

    auto [clash, fresh] = stack_.back().names.try_emplace(windows_name_key(name), name);
    if (!fresh) {
        std::string parent(parent_of(entry.path));
        std::string other = parent.empty() ? clash->second : parent + "/" + clash->second;
        bool unicode = normalize(clash->second, UTF8PROC_COMPOSE) == normalize(name, UTF8PROC_COMPOSE);
        note("'" + escape_path(other) + "' and '" + escape_path(entry.path) + "' " +
                            (unicode ? "are the same name under Unicode normalization (NFC/NFD)"
                                     : "differ only in case") +
                            "; a Windows or SMB target keeps only one");
    }
    if (entry.type == EntryType::Directory) stack_.push_back(Folder{entry.path, {}});
}

void NameChecker::note(std::string problem) {
    if (problems_.size() < kMaxNameProblemsKept) problems_.push_back(std::move(problem));
    ++count_;
}

}  // namespace exmsync::manifest
