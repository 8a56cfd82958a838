// The platform layer's file system: the only place that calls the operating
// system's file API. The scanner (manifest/) and the local transport
// (transport/) both stand on it; neither includes a system header.
//
// files_posix.cpp and files_win32.cpp implement it side by side, each with
// its own system's semantics rather than one emulating the other:
// - Paths are UTF-8 here; the Win32 side converts to UTF-16 at the API and
//   adds the \\?\ prefix, so long paths and UNC roots work.
// - Nothing is ever followed through a link: "link" means a symlink on POSIX
//   and any reparse point (symlink, junction, mount point) on Windows.
// - Calls return an Error instead of throwing, so each caller words its own
//   messages (a scan names the source file, the transport the target).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace exmsync::platform {


// What went wrong, in terms both systems share; `native` keeps the errno or
// Win32 error code for the text.
enum class Errc {
    ok,
    not_found,      // the name, or a folder on its way, is not there
    exists,         // something is already at the destination
    not_empty,      // a folder to remove still has entries
    not_a_folder,   // a folder was needed
    is_a_folder,    // a file was needed, and a folder is there
    not_a_file,     // a regular file was needed (a FIFO, a device, ...)
    not_a_link,     // a link was needed
    replaced,       // the entry changed between the look and the open
    is_link,        // a link (or reparse point) where none may be followed
    access,         // permission denied
    read_only,      // a read-only volume or mount
    no_space,       // the volume (or a quota) is full
    cross_volume,   // a rename between volumes
    name_too_long,  // a name or path too long for the file system
    too_many_open,  // out of handles or descriptors
    in_use,         // held open by another process (a Windows sharing violation)
    busy,           // in use by the system: a mount point (POSIX EBUSY)
    io,             // the disk or the connection failed
    not_supported,  // this file system cannot do it
    other,
};

struct Error {
    Errc code = Errc::ok;
    long native = 0;
    explicit operator bool() const { return code != Errc::ok; }
    // One line: fixed words for the kinds the system has no text for
    // (is_a_folder, not_a_file, not_a_link, replaced), else system_text.
    std::string text() const;
};

// The system's own one-line text for a native error code (strerror,
// FormatMessage).
std::string system_text(long native);

enum class Kind { File, Folder, Link, Other };

struct Info {
    Kind kind = Kind::Other;
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;  // since the Unix epoch
    // Identity: POSIX st_dev / st_ino / st_ctim; Windows the volume serial
    // number, the file id and FILE_BASIC_INFO.ChangeTime (never the
    // creation time that st_ctime means on Windows).
    std::uint64_t device = 0;
    std::uint64_t file_id = 0;
    std::int64_t ctime_ns = 0;
};

// An open file or folder. Move-only; closed on destruction.
class Handle {
public:
    Handle() = default;
    Handle(Handle&& other) noexcept;
    Handle& operator=(Handle&& other) noexcept;
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    ~Handle();

    bool valid() const { return native_ != kInvalid; }
    // Closes now and reports a failure to close: some network file systems
    // only report a failed write there.
    Error close();

    // For the side that implements it: the descriptor or HANDLE, and (Win32)
    // the \\?\ path it was opened by, which children are opened below.
    static constexpr std::intptr_t kInvalid = -1;
    std::intptr_t native_ = kInvalid;
    std::string path_;
};

struct FolderEntry {
    std::string name;
    Info info;
};

struct Space {
    std::uint64_t free_bytes = 0;
    std::uint64_t free_inodes = 0;  // UINT64_MAX where the volume has no such limit
};

// ---- by path: the scanner's side ----

// Describes `path` without following a link in its last component.
Error stat_path(const std::string& path, Info& out);
// Opens a folder by path; links on the way are followed (the operator
// chose the root).
Error open_folder(const std::string& path, Handle& out);
// Opens a regular file for reading by path, refusing a link (is_link) and
// anything that is not a regular file (other), and describes what it opened.
Error open_file(const std::string& path, Handle& out, Info& info);
// The target text of a link.
Error read_link_path(const std::string& path, std::string& out);

// ---- relative to an open folder: the transport's side ----
// `name` is one component, never a path; nothing is followed through a link.

// Opens the folder `name` in `dir` ("" opens `dir` itself anew); a link
// there is is_link, a file not_a_folder.
Error open_folder_at(const Handle& dir, const std::string& name, Handle& out);
// Opens the '/'-separated `path` below `dir` in one call where the system
// can refuse every link and every way out of `dir` itself (Linux openat2);
// not_supported elsewhere, and the caller walks one component at a time.
Error open_folder_beneath(const Handle& dir, const std::string& path, Handle& out);
// Describes `name` in `dir` ("" for `dir` itself). Here and in remove_at,
// rename_at (its `from`) and set_mtime_at, `name` finds only the entry
// stored with exactly that spelling, also where the file system folds case
// (Windows): another spelling is not_found. Opens follow the file system's
// own rule; their names come from listings.
Error stat_at(const Handle& dir, const std::string& name, Info& out);
// Describes an open file or folder.
Error stat_handle(const Handle& handle, Info& out);
// The children of an open folder, in no order, each described without an
// open per child; a child removed meanwhile is left out. When a child
// cannot be described, `failed` names it.
Error list_folder(const Handle& dir, std::vector<FolderEntry>& out, std::string& failed);
Error read_link_at(const Handle& dir, const std::string& name, std::string& out);
// Opens the regular file `name` for reading (is_link / other otherwise;
// a FIFO or device is never opened) and describes it.
Error open_file_at(const Handle& dir, const std::string& name, Handle& out, Info& info);
// Creates a new file for writing; anything there, a dangling link
// included, is `exists`.
Error create_file_at(const Handle& dir, const std::string& name, Handle& out);
Error make_folder_at(const Handle& dir, const std::string& name);
// Removes a file, a link (itself) or an empty folder.
Error remove_at(const Handle& dir, const std::string& name);
// Moves `from` to `to` and never replaces anything at `to` (exists). Where
// the file system has no such rename, checks then renames: not atomic
// against another writer, but a crash never leaves both names. Set
// `force_fallback` to test that way.
Error rename_at(const Handle& from_dir, const std::string& from, const Handle& to_dir, const std::string& to,
                bool force_fallback = false);
Error set_mtime_at(const Handle& dir, const std::string& name, std::int64_t mtime_ns);

// ---- open files and folders ----

// Up to `size` bytes; `got` is 0 only at the end.
Error read(const Handle& file, char* buffer, std::size_t size, std::size_t& got);
Error write_all(const Handle& file, const char* data, std::size_t size);
Error set_mtime(const Handle& handle, std::int64_t mtime_ns);
// Flushes a file's data to stable storage.
Error flush_file(const Handle& file);
// Flushes a folder's entries; ok where the system cannot (and need not)
// flush a folder on its own (see folder_flush()).
Error flush_folder(const Handle& dir);
// Flushes everything written on the volume that holds `dir`.
Error flush_volume(const Handle& dir);
// Whether flush_volume reaches files written and closed earlier: true on
// POSIX (syncfs); false on Windows, where only an administrator may flush a
// volume, so each file must be flushed before it is closed instead, and
// flush_volume has nothing left to do (NTFS journals the metadata).
bool volume_flush();
// Whether flush_folder really flushes one folder: true on POSIX, false on
// Windows, where folders cannot be flushed and NTFS journals its metadata.
bool folder_flush();
// The finest mtime step the system keeps: 1 ns on Linux, 100 ns on Windows.
std::int64_t mtime_resolution_ns();
Error free_space(const Handle& dir, Space& out);

// Why the system would refuse to change or remove `name` in `dir`, in words
// with the fix ("it is immutable (chattr +i); ..."), or "" (also when it
// cannot be looked at: a rename needs only its folder).
std::string entry_problem_at(const Handle& dir, const std::string& name);
// Why entries cannot be created in or removed from the open folder, or "".
std::string folder_problem(const Handle& dir);

// Who may read a file: for a secret (a credentials file) that must be this
// user's own and readable by nobody else. On Windows, where access is the
// ACL's, `mode` is reported as 0600 and `mine` as true.
struct Access {
    Kind kind = Kind::Other;
    unsigned mode = 0;  // the permission bits (0644)
    bool mine = false;  // owned by the user this process runs as
};
Error access_of(const std::string& path, Access& out);

// A UTF-8 path as the standard streams (std::ifstream, std::ofstream) take
// it: UTF-16 on Windows, where a narrow name would be read in the ANSI code
// page and a non-ASCII name would not be found.
std::filesystem::path stream_path(const std::string& utf8);
// A new file for writing through C stdio (libarchive writes to a FILE*):
// nullptr when it exists or cannot be made, with the reason in `error`.
std::FILE* create_c_file(const std::string& utf8, Error& error);

}  // namespace exmsync::platform
