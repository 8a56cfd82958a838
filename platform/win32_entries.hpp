// What the Win32 side makes of an entry it found, apart from the calls that
// found it, so the Windows test suite can check this logic with the records
// Wine cannot make (Wine 8 makes no symlink or junction, and its Restart
// Manager names no holder): which attributes make a link, which kinds an
// open admits, the text of a link from its reparse data, and the programs
// holding a file. Included only by files_win32.cpp and that test.
#pragma once

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <winioctl.h>
#include <restartmanager.h>

#include <cstring>
#include <cwchar>
#include <string>

#include "platform/files.hpp"
#include "platform/win32_text.hpp"

namespace exmsync::platform {

// A reparse point of any tag (symlink, junction, mount point, a cloud or
// dedup placeholder) is a Link, whatever else it is: never gone through.
inline Kind kind_of(DWORD attributes) {
    if (attributes & FILE_ATTRIBUTE_REPARSE_POINT) return Kind::Link;
    if (attributes & FILE_ATTRIBUTE_DIRECTORY) return Kind::Folder;
    if (attributes & FILE_ATTRIBUTE_DEVICE) return Kind::Other;
    return Kind::File;
}

// Whether an open that wanted `wanted` may keep what it opened: opens use
// FILE_FLAG_OPEN_REPARSE_POINT, so a link is opened itself and refused here.
inline Error admit(Kind found, Kind wanted) {
    if (found == Kind::Link) return {Errc::is_link, ERROR_CANT_ACCESS_FILE};
    if (found == wanted) return {};
    if (wanted == Kind::Folder) return {Errc::not_a_folder, ERROR_DIRECTORY};
    if (found == Kind::Folder) return {Errc::is_a_folder, ERROR_DIRECTORY};
    return {Errc::not_a_file, ERROR_INVALID_FUNCTION};
}

// The reparse data of a link, as the SDK's REPARSE_DATA_BUFFER lays it out
// (that struct lives in the DDK headers only).
struct ReparseHead {
    ULONG tag;
    USHORT data_length;
    USHORT reserved;
    USHORT substitute_offset;
    USHORT substitute_length;
    USHORT print_offset;
    USHORT print_length;
    // Symlinks have a ULONG of flags here; junctions go straight to the names.
};

// The text of a symlink or junction from the `size` bytes FSCTL_GET_REPARSE_POINT
// gave: its print name ("..\shared\a.html"), else its substitute name, with
// '/' for '\' so a tree lists the same on either system. Other tags are
// not_a_link; names outside the data are io.
inline Error link_text_of(const char* data, std::size_t size, std::string& out) {
    ReparseHead head;
    if (size < sizeof head) return {Errc::io, ERROR_INVALID_DATA};
    std::memcpy(&head, data, sizeof head);
    std::size_t names = sizeof head;
    if (head.tag == IO_REPARSE_TAG_SYMLINK) names += sizeof(ULONG);
    else if (head.tag != IO_REPARSE_TAG_MOUNT_POINT) return {Errc::not_a_link, ERROR_NOT_A_REPARSE_POINT};
    std::size_t offset = head.print_offset, length = head.print_length;
    if (length == 0) offset = head.substitute_offset, length = head.substitute_length;
    if (names + offset + length > size || length % sizeof(wchar_t) != 0) return {Errc::io, ERROR_INVALID_DATA};
    std::wstring text(length / sizeof(wchar_t), L'\0');
    std::memcpy(text.data(), data + names + offset, length);
    for (auto& c : text)
        if (c == L'\\') c = L'/';
    out = narrow(text.data(), text.size());
    return {};
}

// Restart Manager takes ordinary paths, not \\?\ ones.
inline std::wstring restart_manager_path(const std::wstring& path) {
    if (path.rfind(L"\\\\?\\UNC\\", 0) == 0) return L"\\\\" + path.substr(8);
    if (path.rfind(L"\\\\?\\", 0) == 0) return path.substr(4);
    return path;
}

// The programs Restart Manager found holding a file, as a message names
// them: "w3wp.exe (pid 4711), MsMpEng.exe (pid 2020)", the first three.
inline std::string holder_names(const RM_PROCESS_INFO* apps, UINT count) {
    std::string out;
    for (UINT i = 0; i < count && i < 3; ++i) {
        if (!out.empty()) out += ", ";
        const std::size_t length = ::wcsnlen(apps[i].strAppName, CCH_RM_MAX_APP_NAME + 1);
        out += narrow(apps[i].strAppName, length) + " (pid " + std::to_string(apps[i].Process.dwProcessId) + ")";
    }
    if (count > 3) out += " and " + std::to_string(count - 3) + " more";
    return out;
}

}  // namespace exmsync::platform
