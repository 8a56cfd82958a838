// The Win32 side's logic around what it finds, with the records Wine 8
// cannot make: it reports CreateSymbolicLinkW done and makes nothing, and has
// no junctions, so Files.NeverThroughALink and the scanner's and push's
// symlink tests are skipped there (README, "Tests"). What they would check
// on Windows goes through these functions: the attributes that make a Link,
// the opens that refuse one, and the text of a link. Wine's Restart Manager
// names no program holding a file either: the naming is checked here too.
#include "platform/win32_entries.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <cwchar>
#include <string>
#include <vector>

namespace exmsync::platform {
namespace {

TEST(Win32Entries, EveryReparsePointIsALink) {
    // A directory symlink, a junction and a mount point are folders with a
    // reparse point; a file symlink is a file with one; OneDrive placeholders too.
    EXPECT_EQ(kind_of(FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_REPARSE_POINT), Kind::Link);
    EXPECT_EQ(kind_of(FILE_ATTRIBUTE_ARCHIVE | FILE_ATTRIBUTE_REPARSE_POINT), Kind::Link);
    EXPECT_EQ(kind_of(FILE_ATTRIBUTE_REPARSE_POINT | FILE_ATTRIBUTE_OFFLINE | FILE_ATTRIBUTE_SPARSE_FILE), Kind::Link);
    EXPECT_EQ(kind_of(FILE_ATTRIBUTE_DIRECTORY), Kind::Folder);
    EXPECT_EQ(kind_of(FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_READONLY | FILE_ATTRIBUTE_HIDDEN), Kind::Folder);
    EXPECT_EQ(kind_of(FILE_ATTRIBUTE_NORMAL), Kind::File);
    EXPECT_EQ(kind_of(FILE_ATTRIBUTE_ARCHIVE | FILE_ATTRIBUTE_READONLY), Kind::File);
    EXPECT_EQ(kind_of(FILE_ATTRIBUTE_DEVICE), Kind::Other);
}

TEST(Win32Entries, OpensRefuseALinkWhateverWasWanted) {
    EXPECT_EQ(admit(Kind::Link, Kind::Folder).code, Errc::is_link);
    EXPECT_EQ(admit(Kind::Link, Kind::File).code, Errc::is_link);
    EXPECT_EQ(admit(Kind::File, Kind::Folder).code, Errc::not_a_folder);
    EXPECT_EQ(admit(Kind::Other, Kind::Folder).code, Errc::not_a_folder);
    EXPECT_EQ(admit(Kind::Folder, Kind::File).code, Errc::is_a_folder);
    EXPECT_EQ(admit(Kind::Other, Kind::File).code, Errc::not_a_file);
    EXPECT_FALSE(admit(Kind::Folder, Kind::Folder));
    EXPECT_FALSE(admit(Kind::File, Kind::File));
}

// Reparse data as FSCTL_GET_REPARSE_POINT returns it: the head, a ULONG of
// flags for a symlink, then the substitute and print names.
std::vector<char> reparse_data(ULONG tag, const std::wstring& substitute, const std::wstring& print) {
    const std::size_t flags = tag == IO_REPARSE_TAG_SYMLINK ? sizeof(ULONG) : 0;
    const std::size_t sub_bytes = substitute.size() * sizeof(wchar_t), print_bytes = print.size() * sizeof(wchar_t);
    std::vector<char> data(sizeof(ReparseHead) + flags + sub_bytes + print_bytes);
    ReparseHead head{};
    head.tag = tag;
    head.data_length = static_cast<USHORT>(data.size() - 8);
    head.substitute_offset = 0;
    head.substitute_length = static_cast<USHORT>(sub_bytes);
    head.print_offset = static_cast<USHORT>(sub_bytes);
    head.print_length = static_cast<USHORT>(print_bytes);
    std::memcpy(data.data(), &head, sizeof head);
    char* names = data.data() + sizeof head + flags;
    std::memcpy(names, substitute.data(), sub_bytes);
    std::memcpy(names + sub_bytes, print.data(), print_bytes);
    return data;
}

TEST(Win32Entries, LinkTextIsThePrintNameWithForwardSlashes) {
    std::string text;
    auto symlink = reparse_data(IO_REPARSE_TAG_SYMLINK, L"..\\shared\\a.html", L"..\\shared\\a.html");
    ASSERT_FALSE(link_text_of(symlink.data(), symlink.size(), text));
    EXPECT_EQ(text, "../shared/a.html");
    auto junction = reparse_data(IO_REPARSE_TAG_MOUNT_POINT, L"\\??\\D:\\Templates", L"D:\\Templates");
    ASSERT_FALSE(link_text_of(junction.data(), junction.size(), text));
    EXPECT_EQ(text, "D:/Templates");
    // No print name: the substitute name.
    auto bare = reparse_data(IO_REPARSE_TAG_MOUNT_POINT, L"\\??\\Volume{1234}\\", L"");
    ASSERT_FALSE(link_text_of(bare.data(), bare.size(), text));
    EXPECT_EQ(text, "/?" "?/Volume{1234}/");
    auto unicode = reparse_data(IO_REPARSE_TAG_SYMLINK, L"Vorlagen\\\u00dcbersicht.html", L"Vorlagen\\\u00dcbersicht.html");
    ASSERT_FALSE(link_text_of(unicode.data(), unicode.size(), text));
    EXPECT_EQ(text, "Vorlagen/\xc3\x9c" "bersicht.html");
}

TEST(Win32Entries, OtherTagsAndBrokenDataAreNotLinkText) {
    std::string text = "unchanged";
    auto dedup = reparse_data(0x80000013 /* IO_REPARSE_TAG_DEDUP */, L"x", L"x");
    EXPECT_EQ(link_text_of(dedup.data(), dedup.size(), text).code, Errc::not_a_link);
    auto symlink = reparse_data(IO_REPARSE_TAG_SYMLINK, L"target.html", L"target.html");
    EXPECT_EQ(link_text_of(symlink.data(), symlink.size() - 2, text).code, Errc::io);  // names cut short
    EXPECT_EQ(link_text_of(symlink.data(), 6, text).code, Errc::io);                   // not even a head
    EXPECT_EQ(text, "unchanged");
}

TEST(Win32Entries, RestartManagerGetsOrdinaryPaths) {
    EXPECT_EQ(restart_manager_path(L"\\\\?\\C:\\inetpub\\wwwroot\\a.html"), L"C:\\inetpub\\wwwroot\\a.html");
    EXPECT_EQ(restart_manager_path(L"\\\\?\\UNC\\dispatch01\\wwwroot$\\a.html"), L"\\\\dispatch01\\wwwroot$\\a.html");
    EXPECT_EQ(restart_manager_path(L"C:\\a.html"), L"C:\\a.html");
}

RM_PROCESS_INFO holder(const wchar_t* name, DWORD pid) {
    RM_PROCESS_INFO info{};
    info.Process.dwProcessId = pid;
    std::wcsncpy(info.strAppName, name, CCH_RM_MAX_APP_NAME);
    return info;
}

TEST(Win32Entries, HoldersAreNamedWithTheirPids) {
    std::vector<RM_PROCESS_INFO> apps = {holder(L"w3wp.exe", 4711)};
    EXPECT_EQ(holder_names(apps.data(), 1), "w3wp.exe (pid 4711)");
    apps.push_back(holder(L"Windows Defender Antivirus Service", 2020));
    apps.push_back(holder(L"Sch\u00fctzer.exe", 12));
    apps.push_back(holder(L"backup.exe", 99));
    apps.push_back(holder(L"indexer.exe", 100));
    EXPECT_EQ(holder_names(apps.data(), 5),
              "w3wp.exe (pid 4711), Windows Defender Antivirus Service (pid 2020), Sch\xc3\xbctzer.exe (pid 12) and 2 more");
    EXPECT_EQ(holder_names(apps.data(), 0), "");
    // A name that fills the whole field, with no terminator, stops there.
    RM_PROCESS_INFO full{};
    std::fill(std::begin(full.strAppName), std::end(full.strAppName), L'x');
    EXPECT_EQ(holder_names(&full, 1), std::string(CCH_RM_MAX_APP_NAME + 1, 'x') + " (pid 0)");
}

}  // namespace
}  // namespace exmsync::platform
