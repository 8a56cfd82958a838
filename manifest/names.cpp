#include "manifest/names.hpp"

#include <utf8proc.h>

#include <array>
#include <cstdlib>

#include "manifest/escape.hpp"

namespace exmsync::manifest {
namespace {

std::string upper_ascii(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    return out;
}

bool is_reserved_device(std::string_view name) {
    // Windows reserves these names with any extension: nul.txt is NUL.
    std::string stem = upper_ascii(name.substr(0, name.find('.')));
    while (!stem.empty() && stem.back() == ' ') stem.pop_back();
    static const std::array<const char*, 4> plain = {"CON", "PRN", "AUX", "NUL"};
    for (const char* r : plain)
        if (stem == r) return true;
    if (stem.size() == 4 && (stem.starts_with("COM") || stem.starts_with("LPT")) && stem[3] >= '1' && stem[3] <= '9')
        return true;
    return false;
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
    for (char c : name) {
        if (static_cast<unsigned char>(c) < 0x20) return "holds a control character, which Windows refuses";
        if (c == ':') return "holds ':', which Windows reads as an alternate data stream or a drive";
        if (c == '\\') return "holds '\\', which Windows reads as a folder separator";
        if (std::string_view("<>\"|?*").find(c) != std::string_view::npos)
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

    auto [clash, fresh] = stack_.back().names.emplace(windows_name_key(name), std::string(name));
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
