// Names that a Windows or SMB target would refuse or merge. Linux keeps
// `Template.html` and `template.html` apart, and an NFC and an NFD spelling of
// `café` too; NTFS keeps one of each pair, so a push would silently lose one.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "manifest/entry.hpp"

namespace exmsync::manifest {

// Why Windows refuses this file name (a reserved device name such as CON or
// nul.txt, a trailing dot or space, one of <>:"|?* or a control character),
// or empty when it accepts it.
std::string windows_name_problem(std::string_view name);

// The key under which Windows would consider two names the same: Unicode NFC,
// then case folded. Invalid UTF-8 is returned unchanged.
std::string windows_name_key(std::string_view name);

// Problems kept word for word; the rest are only counted.
inline constexpr std::size_t kMaxNameProblemsKept = 50;

// Checks entries fed in manifest order: one line per name Windows would
// refuse, and per pair of names it would merge.
class NameChecker {
public:
    void add(const Entry& entry);
    const std::vector<std::string>& problems() const { return problems_; }
    std::uint64_t count() const { return count_; }

private:
    void note(std::string problem);
    struct Folder {
        std::string path;
        std::unordered_map<std::string, std::string> names;  // key -> first name seen
    };
    std::vector<Folder> stack_{Folder{}};
    std::vector<std::string> problems_;
    std::uint64_t count_ = 0;
};

}  // namespace exmsync::manifest
