// The Win32 side of platform/files.hpp, with Windows semantics:
// - UTF-8 paths become UTF-16 \\?\ paths (\\?\UNC\server\share\... for a
//   share), so MAX_PATH does not apply and nothing is reinterpreted.
// - Every open below a root uses FILE_FLAG_OPEN_REPARSE_POINT and checks the
//   attributes of what it opened, so a symlink, junction or mount point is
//   never gone through. A folder on the way is held open without
//   FILE_SHARE_DELETE while it is used, so it cannot be renamed or swapped
//   for a junction until the operation is done.
// - Renames never replace (MoveFileExW without MOVEFILE_REPLACE_EXISTING),
//   and listings take sizes, times and file ids from the directory query
//   itself (FileIdBothDirectoryInfo), with no open per child.
// - stat_at, remove_at, rename_at and set_mtime_at find only the entry
//   stored under exactly that name, as on POSIX: on a file system that folds
//   case (NTFS, SMB shares) CreateFileW finds Welcome.html by the name
//   welcome.html, and the apply would take a case-only rename's new name for
//   taken, or stat, move or remove the old entry by the new name. Opens
//   (open_file_at, open_folder_at) are left to the file system's rule: their
//   names come from listings, and a check there would cost a directory query
//   per folder and per file scanned, round trips on a UNC target.
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <winioctl.h>
#include <fcntl.h>
#include <io.h>

#include <boost/filesystem/detail/utf8_codecvt_facet.hpp>
#include <boost/filesystem/path.hpp>
#include <locale>
#include <vector>

#include "platform/files.hpp"
#include "platform/win32_entries.hpp"
#include "platform/win32_text.hpp"

namespace exmsync::platform {
namespace {

// Everything above the platform layer holds paths as UTF-8 strings and gives
// them to boost::filesystem::path, which on Windows converts through the ANSI
// code page unless told otherwise. Set once, before main, for every program
// that links this layer (exmsync and the test suites alike).
[[maybe_unused]] const bool utf8_paths = [] {
    boost::filesystem::path::imbue(
        std::locale(std::locale(), new boost::filesystem::detail::utf8_codecvt_facet));
    return true;
}();

// FILETIME counts 100 ns steps from 1601-01-01; this many lie before 1970.
constexpr std::int64_t kEpochSteps = 116'444'736'000'000'000;

Errc classify(DWORD code) {
    switch (code) {
    case ERROR_SUCCESS: return Errc::ok;
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_NAME:
    case ERROR_BAD_NETPATH:
    case ERROR_BAD_NET_NAME: return Errc::not_found;
    case ERROR_FILE_EXISTS:
    case ERROR_ALREADY_EXISTS: return Errc::exists;
    case ERROR_DIR_NOT_EMPTY: return Errc::not_empty;
    case ERROR_DIRECTORY: return Errc::not_a_folder;
    case ERROR_CANT_RESOLVE_FILENAME:
    case ERROR_CANT_ACCESS_FILE: return Errc::is_link;
    case ERROR_ACCESS_DENIED:
    case ERROR_PRIVILEGE_NOT_HELD: return Errc::access;
    case ERROR_WRITE_PROTECT: return Errc::read_only;
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
    case 1295: return Errc::no_space;  // ERROR_DISK_QUOTA_EXCEEDED, missing from MinGW-w64's headers
    case ERROR_NOT_SAME_DEVICE: return Errc::cross_volume;
    case ERROR_FILENAME_EXCED_RANGE:
    case ERROR_BUFFER_OVERFLOW: return Errc::name_too_long;
    case ERROR_TOO_MANY_OPEN_FILES: return Errc::too_many_open;
    case ERROR_SHARING_VIOLATION:
    case ERROR_LOCK_VIOLATION:
    case ERROR_USER_MAPPED_FILE: return Errc::in_use;
    case ERROR_CRC:
    case ERROR_IO_DEVICE:
    case ERROR_NETNAME_DELETED:
    case ERROR_UNEXP_NET_ERR:
    case ERROR_SEM_TIMEOUT: return Errc::io;
    case ERROR_NOT_SUPPORTED:
    case ERROR_INVALID_FUNCTION: return Errc::not_supported;
    default: return Errc::other;
    }
}

Error fail(DWORD code) { return {classify(code), static_cast<long>(code)}; }
Error last() { return fail(::GetLastError()); }
Error ok() { return {}; }

HANDLE native(const Handle& handle) { return reinterpret_cast<HANDLE>(handle.native_); }

// A path as the API takes it: absolute, '\'-separated, with the \\?\ prefix
// that switches off MAX_PATH and any further interpretation.
std::wstring long_path(const std::string& path) {
    std::wstring wide = widen(path);
    for (auto& c : wide)
        if (c == L'/') c = L'\\';
    if (wide.rfind(L"\\\\?\\", 0) == 0) return wide;
    // GetFullPathNameW resolves "." and ".." and a relative path now, which
    // \\?\ would otherwise pass through literally.
    DWORD size = ::GetFullPathNameW(wide.c_str(), 0, nullptr, nullptr);
    if (size == 0) return wide;
    std::wstring full(size, L'\0');
    size = ::GetFullPathNameW(wide.c_str(), size, full.data(), nullptr);
    full.resize(size);
    if (full.rfind(L"\\\\", 0) == 0) return L"\\\\?\\UNC\\" + full.substr(2);  // \\server\share
    return L"\\\\?\\" + full;
}

std::wstring child_path(const Handle& dir, const std::string& name) {
    std::wstring out = widen(dir.path_);
    if (!name.empty()) out += L"\\" + widen(name);
    return out;
}

std::int64_t to_ns(const LARGE_INTEGER& steps) { return (steps.QuadPart - kEpochSteps) * 100; }

LARGE_INTEGER to_steps(std::int64_t ns) {
    // Floor division, so a time before 1970 rounds down as on POSIX.
    std::int64_t steps = ns / 100;
    if (ns % 100 < 0) steps -= 1;
    LARGE_INTEGER out;
    out.QuadPart = steps + kEpochSteps;
    return out;
}

Error describe(HANDLE handle, Info& out) {
    BY_HANDLE_FILE_INFORMATION file{};
    if (!::GetFileInformationByHandle(handle, &file)) return last();
    FILE_BASIC_INFO basic{};
    if (!::GetFileInformationByHandleEx(handle, FileBasicInfo, &basic, sizeof basic)) return last();
    out.kind = kind_of(file.dwFileAttributes);
    out.size = (static_cast<std::uint64_t>(file.nFileSizeHigh) << 32) | file.nFileSizeLow;
    out.mtime_ns = to_ns(basic.LastWriteTime);
    // The change time (metadata or data), not the creation time.
    out.ctime_ns = to_ns(basic.ChangeTime);
    out.device = file.dwVolumeSerialNumber;
    out.file_id = (static_cast<std::uint64_t>(file.nFileIndexHigh) << 32) | file.nFileIndexLow;
    return ok();
}

constexpr DWORD kShareAll = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;
// A folder on the way: others may read and write in it, but not rename or
// remove it while it is held.
constexpr DWORD kShareNoDelete = FILE_SHARE_READ | FILE_SHARE_WRITE;
constexpr DWORD kNoFollow = FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT;

// Whether the last component of `path` is stored with exactly that
// spelling: the directory's own record (FindFirstFileExW on the name, no
// wildcard) holds the stored name, on NTFS, on an SMB share and under Wine
// alike. A name with a wildcard character cannot be stored on Windows.
bool stored_as_named(const std::wstring& path) {
    const std::size_t slash = path.find_last_of(L'\\');
    const std::wstring name = slash == std::wstring::npos ? path : path.substr(slash + 1);
    if (name.empty() || name.find_first_of(L"*?<>\"") != std::wstring::npos) return false;
    WIN32_FIND_DATAW found{};
    HANDLE search = ::FindFirstFileExW(path.c_str(), FindExInfoBasic, &found, FindExSearchNameMatch, nullptr, 0);
    if (search == INVALID_HANDLE_VALUE) return false;
    ::FindClose(search);
    return name == found.cFileName;
}

Error open_raw(const std::wstring& path, DWORD access, DWORD share, DWORD flags, Handle& out) {
    HANDLE handle = ::CreateFileW(path.c_str(), access, share, nullptr, OPEN_EXISTING, flags, nullptr);
    if (handle == INVALID_HANDLE_VALUE) return last();
    Handle opened;
    opened.native_ = reinterpret_cast<std::intptr_t>(handle);
    out = std::move(opened);
    return ok();
}

// Opens the child `name` of `dir` to describe or change it; one stored
// under another case is not_found, and is let go. (Roots and paths the
// operator typed are opened as Windows reads them.)
Error open_child(const Handle& dir, const std::string& name, DWORD access, DWORD flags, Handle& out) {
    const std::wstring path = child_path(dir, name);
    if (auto error = open_raw(path, access, kShareAll, flags, out)) return error;
    if (stored_as_named(path)) return ok();
    out = Handle();
    return fail(ERROR_FILE_NOT_FOUND);
}

Error open_folder_checked(const std::wstring& path, DWORD share, DWORD flags, Handle& out) {
    Handle folder;
    if (auto error = open_raw(path, FILE_LIST_DIRECTORY | FILE_READ_ATTRIBUTES | SYNCHRONIZE, share, flags, folder)) {
        return error;
    }
    Info info;
    if (auto error = describe(native(folder), info)) return error;
    if (auto error = admit(info.kind, Kind::Folder)) return error;
    folder.path_ = narrow(path.data(), path.size());
    out = std::move(folder);
    return ok();
}

Error open_regular(const std::wstring& path, Handle& out, Info& info) {
    Handle file;
    if (auto error = open_raw(path, GENERIC_READ, kShareAll, kNoFollow | FILE_FLAG_SEQUENTIAL_SCAN, file)) {
        return error;
    }
    if (auto error = describe(native(file), info)) return error;
    if (auto error = admit(info.kind, Kind::File)) return error;
    out = std::move(file);
    return ok();
}

Error link_text(HANDLE link, std::string& out) {
    std::vector<char> buffer(MAXIMUM_REPARSE_DATA_BUFFER_SIZE);
    DWORD got = 0;
    if (!::DeviceIoControl(link, FSCTL_GET_REPARSE_POINT, nullptr, 0, buffer.data(),
                           static_cast<DWORD>(buffer.size()), &got, nullptr)) {
        const DWORD code = ::GetLastError();
        return code == ERROR_NOT_A_REPARSE_POINT ? Error{Errc::not_a_link, static_cast<long>(code)} : fail(code);
    }
    return link_text_of(buffer.data(), got, out);
}

Error set_write_time(HANDLE handle, std::int64_t mtime_ns) {
    FILE_BASIC_INFO basic{};  // zero: leave that time as it is
    basic.LastWriteTime = to_steps(mtime_ns);
    return ::SetFileInformationByHandle(handle, FileBasicInfo, &basic, sizeof basic) ? ok() : last();
}

}  // namespace

std::int64_t mtime_resolution_ns() { return 100; }

Error access_of(const std::string& path, Access& out) {
    Handle entry;
    if (auto error = open_raw(long_path(path), FILE_READ_ATTRIBUTES, kShareAll, FILE_FLAG_BACKUP_SEMANTICS, entry)) {
        return error;
    }
    Info info;
    if (auto error = describe(native(entry), info)) return error;
    out.kind = info.kind;
    out.mode = 0600;  // see files.hpp: the ACL decides, not mode bits
    out.mine = true;
    return ok();
}

std::filesystem::path stream_path(const std::string& utf8) { return std::filesystem::path(widen(utf8)); }

std::FILE* create_c_file(const std::string& utf8, Error& error) {
    // CREATE_NEW, then a C runtime descriptor on the handle: the "x" mode of
    // fopen is unknown to msvcrt.dll.
    HANDLE handle = ::CreateFileW(long_path(utf8).c_str(), GENERIC_WRITE, FILE_SHARE_READ, nullptr, CREATE_NEW,
                                  FILE_ATTRIBUTE_NORMAL, nullptr);
    if (handle == INVALID_HANDLE_VALUE) {
        error = last();
        return nullptr;
    }
    int fd = ::_open_osfhandle(reinterpret_cast<intptr_t>(handle), _O_BINARY | _O_WRONLY);
    std::FILE* file = fd < 0 ? nullptr : ::_fdopen(fd, "wb");
    if (!file) {
        error = {Errc::other, 0};
        if (fd >= 0) ::_close(fd);
        else ::CloseHandle(handle);
        return nullptr;
    }
    error = {};
    return file;
}

std::string system_text(long native) {
    wchar_t* message = nullptr;
    const DWORD length = ::FormatMessageW(
        FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr,
        static_cast<DWORD>(native), 0, reinterpret_cast<wchar_t*>(&message), 0, nullptr);
    std::string out = length ? narrow(message, length) : "Windows error " + std::to_string(native);
    if (message) ::LocalFree(message);
    // One line: the system's text ends in ".\r\n".
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r' || out.back() == '.' || out.back() == ' '))
        out.pop_back();
    return out;
}

Error Handle::close() {
    if (!valid()) return ok();
    HANDLE handle = reinterpret_cast<HANDLE>(native_);
    native_ = kInvalid;
    return ::CloseHandle(handle) ? ok() : last();
}

// ---- by path ----

Error stat_path(const std::string& path, Info& out) {
    Handle entry;
    if (auto error = open_raw(long_path(path), FILE_READ_ATTRIBUTES, kShareAll, kNoFollow, entry)) return error;
    return describe(native(entry), out);
}

Error open_folder(const std::string& path, Handle& out) {
    // The root may be reached through a link: the operator chose it. Held
    // without delete sharing like every folder on the way, so it cannot be
    // renamed away and replaced while exmsync works in it.
    return open_folder_checked(long_path(path), kShareNoDelete, FILE_FLAG_BACKUP_SEMANTICS, out);
}

Error open_file(const std::string& path, Handle& out, Info& info) { return open_regular(long_path(path), out, info); }

Error read_link_path(const std::string& path, std::string& out) {
    Handle link;
    if (auto error = open_raw(long_path(path), FILE_READ_ATTRIBUTES, kShareAll, kNoFollow, link)) return error;
    return link_text(native(link), out);
}

// ---- relative to an open folder ----

Error open_folder_at(const Handle& dir, const std::string& name, Handle& out) {
    return open_folder_checked(child_path(dir, name), kShareNoDelete, kNoFollow, out);
}

Error open_folder_beneath(const Handle&, const std::string&, Handle&) {
    // No single call refuses every reparse point on a path: walk it.
    return {Errc::not_supported, ERROR_NOT_SUPPORTED};
}

Error stat_at(const Handle& dir, const std::string& name, Info& out) {
    if (name.empty()) return describe(native(dir), out);
    Handle entry;
    if (auto error = open_child(dir, name, FILE_READ_ATTRIBUTES, kNoFollow, entry)) return error;
    return describe(native(entry), out);
}

Error stat_handle(const Handle& handle, Info& out) { return describe(native(handle), out); }

Error list_folder(const Handle& dir, std::vector<FolderEntry>& out, std::string&) {
    BY_HANDLE_FILE_INFORMATION folder{};
    if (!::GetFileInformationByHandle(native(dir), &folder)) return last();
    out.clear();
    // Aligned for the records' LARGE_INTEGER fields.
    std::vector<LONGLONG> buffer(64 * 1024 / sizeof(LONGLONG));
    auto info_class = FileIdBothDirectoryRestartInfo;  // from the top, whoever listed before
    while (true) {
        if (!::GetFileInformationByHandleEx(native(dir), info_class, buffer.data(),
                                            static_cast<DWORD>(buffer.size() * sizeof(LONGLONG)))) {
            const DWORD code = ::GetLastError();
            if (code == ERROR_NO_MORE_FILES) return ok();
            return fail(code);
        }
        info_class = FileIdBothDirectoryInfo;
        const char* at = reinterpret_cast<const char*>(buffer.data());
        while (true) {
            const auto* record = reinterpret_cast<const FILE_ID_BOTH_DIR_INFO*>(at);
            const std::size_t length = record->FileNameLength / sizeof(wchar_t);
            const bool dots = (length == 1 && record->FileName[0] == L'.') ||
                              (length == 2 && record->FileName[0] == L'.' && record->FileName[1] == L'.');
            if (!dots) {
                FolderEntry child;
                child.name = narrow(record->FileName, length);
                child.info.kind = kind_of(record->FileAttributes);
                child.info.size = static_cast<std::uint64_t>(record->EndOfFile.QuadPart);
                child.info.mtime_ns = to_ns(record->LastWriteTime);
                child.info.ctime_ns = to_ns(record->ChangeTime);
                child.info.device = folder.dwVolumeSerialNumber;
                child.info.file_id = static_cast<std::uint64_t>(record->FileId.QuadPart);
                out.push_back(std::move(child));
            }
            if (record->NextEntryOffset == 0) break;
            at += record->NextEntryOffset;
        }
    }
}

Error read_link_at(const Handle& dir, const std::string& name, std::string& out) {
    Handle link;
    if (auto error = open_child(dir, name, FILE_READ_ATTRIBUTES, kNoFollow, link)) return error;
    return link_text(native(link), out);
}

Error open_file_at(const Handle& dir, const std::string& name, Handle& out, Info& info) {
    return open_regular(child_path(dir, name), out, info);
}

Error create_file_at(const Handle& dir, const std::string& name, Handle& out) {
    // CREATE_NEW fails on anything there; with FILE_FLAG_OPEN_REPARSE_POINT a
    // dangling link counts as something.
    HANDLE handle = ::CreateFileW(child_path(dir, name).c_str(), GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_DELETE,
                                  nullptr, CREATE_NEW, FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT, nullptr);
    if (handle == INVALID_HANDLE_VALUE) return last();
    Handle file;
    file.native_ = reinterpret_cast<std::intptr_t>(handle);
    out = std::move(file);
    return ok();
}

Error make_folder_at(const Handle& dir, const std::string& name) {
    return ::CreateDirectoryW(child_path(dir, name).c_str(), nullptr) ? ok() : last();
}

Error remove_at(const Handle& dir, const std::string& name) {
    Info info;
    if (auto error = stat_at(dir, name, info)) return error;
    const std::wstring path = child_path(dir, name);
    // A link to a folder is removed as a folder: the link itself, never
    // what it points to.
    DWORD attributes = ::GetFileAttributesW(path.c_str());
    if (attributes == INVALID_FILE_ATTRIBUTES) return last();
    const bool folder = attributes & FILE_ATTRIBUTE_DIRECTORY;
    if (folder ? ::RemoveDirectoryW(path.c_str()) : ::DeleteFileW(path.c_str())) return ok();
    return last();
}

Error rename_at(const Handle& from_dir, const std::string& from, const Handle& to_dir, const std::string& to,
                bool) {
    // No MOVEFILE_REPLACE_EXISTING: anything at `to` is ERROR_ALREADY_EXISTS;
    // no MOVEFILE_COPY_ALLOWED: another volume is an error, never a copy.
    // A link is moved itself.
    const std::wstring source = child_path(from_dir, from);
    if (!stored_as_named(source)) {
        // Not there under this spelling (or not there at all: ask the system why).
        if (::GetFileAttributesW(source.c_str()) == INVALID_FILE_ATTRIBUTES) return last();
        return fail(ERROR_FILE_NOT_FOUND);
    }
    if (::MoveFileExW(source.c_str(), child_path(to_dir, to).c_str(), 0)) return ok();
    return last();
}

Error set_mtime_at(const Handle& dir, const std::string& name, std::int64_t mtime_ns) {
    Handle entry;
    if (auto error = open_child(dir, name, FILE_WRITE_ATTRIBUTES, kNoFollow, entry)) return error;
    return set_write_time(native(entry), mtime_ns);
}

// ---- open files and folders ----

Error read(const Handle& file, char* buffer, std::size_t size, std::size_t& got) {
    DWORD n = 0;
    const DWORD want = size > 0x40000000 ? 0x40000000 : static_cast<DWORD>(size);
    if (!::ReadFile(native(file), buffer, want, &n, nullptr)) {
        const DWORD code = ::GetLastError();
        if (code == ERROR_BROKEN_PIPE || code == ERROR_HANDLE_EOF) {
            got = 0;
            return ok();
        }
        return fail(code);
    }
    got = n;
    return ok();
}

Error write_all(const Handle& file, const char* data, std::size_t size) {
    while (size > 0) {
        DWORD n = 0;
        const DWORD want = size > 0x40000000 ? 0x40000000 : static_cast<DWORD>(size);
        if (!::WriteFile(native(file), data, want, &n, nullptr)) return last();
        data += n;
        size -= n;
    }
    return ok();
}

Error set_mtime(const Handle& handle, std::int64_t mtime_ns) {
    if (auto error = set_write_time(native(handle), mtime_ns); !error || handle.path_.empty()) return error;
    // A folder held for reading only: set it through a handle that may write
    // its attributes.
    Handle writable;
    if (auto error = open_raw(widen(handle.path_), FILE_WRITE_ATTRIBUTES, kShareAll, kNoFollow, writable)) {
        return error;
    }
    return set_write_time(native(writable), mtime_ns);
}

Error flush_file(const Handle& file) { return ::FlushFileBuffers(native(file)) ? ok() : last(); }

Error flush_folder(const Handle&) { return ok(); }  // see folder_flush()

Error flush_volume(const Handle&) { return ok(); }  // see volume_flush()

bool folder_flush() { return false; }

bool volume_flush() { return false; }

Error free_space(const Handle& dir, Space& out) {
    ULARGE_INTEGER available{};
    std::wstring path = widen(dir.path_) + L"\\";
    if (!::GetDiskFreeSpaceExW(path.c_str(), &available, nullptr, nullptr)) return last();
    out.free_bytes = available.QuadPart;
    out.free_inodes = UINT64_MAX;  // NTFS has no inode table to fill
    return ok();
}

namespace {

// The programs that hold `path` open, as Restart Manager names them:
// "w3wp.exe (pid 4242)", or "" when it cannot tell.
std::string holders_of(const std::wstring& path) {
    DWORD session = 0;
    WCHAR key[CCH_RM_SESSION_KEY + 1] = {};
    if (::RmStartSession(&session, 0, key) != ERROR_SUCCESS) return {};
    std::string out;
    const std::wstring plain = restart_manager_path(path);
    LPCWSTR files[] = {plain.c_str()};
    UINT needed = 0, count = 0;
    DWORD reasons = 0;
    if (::RmRegisterResources(session, 1, files, 0, nullptr, 0, nullptr) == ERROR_SUCCESS &&
        ::RmGetList(session, &needed, &count, nullptr, &reasons) == ERROR_MORE_DATA && needed > 0) {
        std::vector<RM_PROCESS_INFO> apps(needed);
        count = needed;
        if (::RmGetList(session, &needed, &count, apps.data(), &reasons) == ERROR_SUCCESS)
            out = holder_names(apps.data(), count);
    }
    ::RmEndSession(session);
    return out;
}

}  // namespace

std::string entry_problem_at(const Handle& dir, const std::string& name) {
    const std::wstring path = child_path(dir, name);
    const DWORD attributes = ::GetFileAttributesW(path.c_str());
    if (attributes == INVALID_FILE_ATTRIBUTES) return {};
    // Windows refuses to replace or delete a read-only file (a folder's
    // read-only bit means nothing to it).
    if ((attributes & FILE_ATTRIBUTE_READONLY) && !(attributes & FILE_ATTRIBUTE_DIRECTORY))
        return "it is read-only; clear the attribute with attrib -R";
    // A file IIS, an antivirus or a backup agent holds open without delete
    // sharing can be neither replaced nor removed: asking for delete access,
    // as the commit will, finds it now. (Not for folders: this process holds
    // the folders it works in open itself.)
    if (attributes & FILE_ATTRIBUTE_DIRECTORY) return {};
    Handle probe;
    Error error = open_raw(path, DELETE | FILE_READ_ATTRIBUTES, kShareAll, kNoFollow, probe);
    if (error.code == Errc::in_use) {
        const std::string holders = holders_of(path);
        return "it is open in " + (holders.empty() ? std::string("another program") : holders) +
               ", which does not let it be replaced; stop that program or wait until it closes the file";
    }
    return {};
}

std::string folder_problem(const Handle&) {
    // Whether this account may change a folder is the ACL's answer, and only
    // trying tells it reliably; the commit's own failure names the folder.
    return {};
}

}  // namespace exmsync::platform
