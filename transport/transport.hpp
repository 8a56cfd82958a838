// The Transport interface: the only way the rest of exmsync touches a target.
//
// A transport is rooted at one folder of one server (a local folder, later an
// SSH or SMB share). It knows nothing about manifests or changesets; the apply
// protocol in sync/ is written once against this interface, which is also why
// a fault-injecting wrapper (tests/support/faulty_transport.hpp) can fail any
// N-th step of it.
//
// Paths: relative to the root, '/'-separated, "" is the root itself. A path
// with a "..", "." or empty component, a leading '/' or a NUL is refused with
// Error before anything is touched, so one check here covers every backend;
// so is a backslash on Windows, where it separates folders (on Linux it is an
// ordinary byte of a name, and a target file named so can still be removed).
//
// Security: no backend ever reads, writes, creates, renames, removes or sets
// times THROUGH a symlink, neither as the last component nor as an
// intermediate folder. A path whose folder part is a symlink is refused with
// Error (never NotFound), so a hostile `a -> /etc` cannot redirect a write.
//
// Threads: a Transport, and every Reader and Writer, is used by one thread at
// a time; `push --parallel` opens one transport per target.
#pragma once

#include <boost/filesystem/path.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace exmsync::transport {

// A failure on a target. The message is one line that names the target and the
// path, the cause, and where sensible what to do.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The path (or, for create/mkdir/rename, a folder on its way) does not exist.
class NotFound : public Error {
public:
    using Error::Error;
};

// create / mkdir / rename found something already at the destination.
class AlreadyExists : public Error {
public:
    using Error::Error;
};

enum class Kind { File, Directory, Symlink, Other };

struct Stat {
    Kind kind = Kind::Other;
    std::uint64_t size = 0;     // bytes for a file; backend-defined otherwise
    std::int64_t mtime_ns = 0;  // nanoseconds since the Unix epoch
    // Identity, where Capabilities::file_identity says the backend has it
    // (0 otherwise): the volume, the file on it, and the change time.
    std::uint64_t device = 0;
    std::uint64_t inode = 0;
    std::int64_t ctime_ns = 0;
};

// What a backend guarantees; the apply protocol reads these instead of
// assuming a local disk.
struct Capabilities {
    // rename() never replaces an existing destination (when false, rename
    // may replace, and callers check the destination first).
    bool no_replace_rename = true;
    // A rename cut short can leave the file under both names (OpenSSH's
    // sftp-server renames by link + unlink), so recovery must accept that.
    bool rename_may_leave_both = false;
    // Stat carries device, inode and ctime.
    bool file_identity = true;
    // The finest mtime step the backend keeps (1: nanoseconds).
    std::int64_t mtime_resolution_ns = 1;
    // flush_dir() flushes that one folder (else it flushes what flush_all
    // does, and costs as much).
    bool folder_flush = true;
    // Flushes reach the server's disk. False where the backend cannot ask
    // for it: a power cut on the server can then lose the last writes.
    bool durable_flush = true;
};

// Chosen when a transport is opened; each backend reads its own part.
struct OpenOptions {
    // ssh:// (the CLI's --known-hosts, --host-key, --identity,
    // --accept-new-host-key, --ssh-timeout).
    struct Ssh {
        std::string known_hosts;              // empty: ~/.ssh/known_hosts
        std::string host_key;                 // a pinned "SHA256:..." fingerprint
        std::vector<std::string> identities;  // empty: the ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa
        bool accept_new_host_key = false;     // record an unknown key in known_hosts instead of refusing
        int timeout_seconds = 30;             // connecting, and each blocking read or write
    } ssh;
    // smb:// (the CLI's --smb-credentials, --smb-encrypt).
    struct Smb {
        std::string credentials;          // username=/password=/domain= file; empty: EXMSYNC_SMB_PASSWORD
        bool require_encryption = false;  // refuse a share whose traffic cannot be encrypted
        // This exmsync, run as `exmsync smb-lister` to list folders in
        // parallel (smb_lister.hpp); empty: one folder at a time.
        std::string lister_program;
    } smb;
};

// Free room on the volume that holds the root.
struct Space {
    std::uint64_t free_bytes = 0;
    std::uint64_t free_inodes = 0;  // UINT64_MAX where the volume has no limit
};

enum class Flush {
    Now,       // fsync the file before commit() returns
    Deferred,  // only close; the caller makes it durable with flush_all()
};

struct DirEntry {
    std::string name;
    Stat stat;
};

// Streams one regular file. Not thread-safe.
class Reader {
public:
    virtual ~Reader() = default;
    // Fills up to `size` bytes; returns how many, 0 only at end of file.
    // Throws Error when the read fails (I/O error, connection lost).
    virtual std::size_t read(char* buffer, std::size_t size) = 0;
};

// Writes one new file made by Transport::create. Not thread-safe.
class Writer {
public:
    // Destroying an uncommitted Writer closes the file and leaves it in place,
    // partly written: the caller removes it (staging files are disposable).
    virtual ~Writer() = default;
    // Appends all `size` bytes. Throws Error on failure (disk full, I/O
    // error) or after commit().
    virtual void write(const char* data, std::size_t size) = 0;
    // With Flush::Now, flushes to stable storage (fsync), then closes; with
    // Flush::Deferred, only closes (thousands of small staged templates are
    // made durable by one flush_all() instead). Throws Error on failure. A
    // failed flush is never retried: after a failed fsync the OS may have
    // dropped the dirty pages, so a retry could report a false success. The
    // Writer is closed afterwards either way; commit() again throws Error.
    virtual void commit(Flush flush) = 0;
    // Gives the file this modification time when it is committed, without a
    // second lookup by path (set_mtime on the Transport does that). Throws
    // Error after commit().
    virtual void set_mtime_on_commit(std::int64_t mtime_ns) = 0;
};

class Transport {
public:
    virtual ~Transport() = default;

    // The root for messages and logs: a folder path or a URL, credentials
    // redacted. Never throws.
    virtual std::string describe() const = 0;

    // Like lstat: a symlink is described, never followed. Success: the Stat.
    // Not found (the path or a folder on its way is absent, or a folder on its
    // way is not a folder): nullopt. Failure (bad path, a symlink on the way,
    // I/O or permission error): throws Error.
    virtual std::optional<Stat> stat(const std::string& path) = 0;

    // The children of folder `dir`, sorted by name bytes, without "." and "..";
    // each child described like stat(). A child that vanishes while listing is
    // left out. Not found: throws NotFound. Failure (not a folder, a symlink,
    // I/O or permission error): throws Error.
    virtual std::vector<DirEntry> list(const std::string& dir) = 0;

    // A hint: a walk will list these folders soon, in this order. A backend
    // that can ask for several at once starts on them (SFTP pipelines its
    // requests); list() stays the only way to read them, and a listing made
    // ahead is never used after a change made through this transport.
    virtual void list_ahead(const std::vector<std::string>& dirs) { (void)dirs; }

    // The target text of a symlink (the link itself, never followed). Not
    // found: throws NotFound. Failure (not a symlink, I/O): throws Error.
    virtual std::string read_link(const std::string& path) = 0;

    // Opens a regular file for reading; never follows a symlink. Not found:
    // throws NotFound. Failure (a symlink, a folder or special file, I/O or
    // permission error): throws Error.
    virtual std::unique_ptr<Reader> open_read(const std::string& path) = 0;

    // Creates a NEW regular file and returns its Writer. The parent must exist.
    // Anything at `path` (a file, folder or even a dangling symlink): throws
    // AlreadyExists. Parent missing: throws NotFound. Failure: throws Error.
    virtual std::unique_ptr<Writer> create(const std::string& path) = 0;
    // Like create(), for a staged file that the caller commits with
    // Flush::Deferred and uses only after flush_all(): a backend may write it
    // in the background (SMB: on its workers' connections), so that a failure
    // to create or write it, AlreadyExists included, may be thrown by
    // flush_all() instead. Operations that could move, remove or read it wait
    // for it first.
    virtual std::unique_ptr<Writer> create_staged(const std::string& path) { return create(path); }

    // Moves `from` (a file, symlink or folder; a symlink is moved itself) to
    // `to` atomically. Never replaces: anything at `to` throws AlreadyExists.
    // `from` or the parent of `to` missing: throws NotFound. Failure (for
    // example across volumes): throws Error.
    virtual void rename(const std::string& from, const std::string& to) = 0;

    // Removes a file, a symlink (the link itself) or an empty folder. Not
    // found: throws NotFound. Failure (folder not empty, the root itself, I/O
    // or permission error): throws Error.
    virtual void remove(const std::string& path) = 0;

    // Creates a folder. The parent must exist. Anything at `path`: throws
    // AlreadyExists. Parent missing: throws NotFound. Failure: throws Error.
    virtual void mkdir(const std::string& path) = 0;

    // Sets the modification time; on a symlink, the link's own time (never
    // the target's). Not found: throws NotFound. Failure: throws Error.
    virtual void set_mtime(const std::string& path, std::int64_t mtime_ns) = 0;

    // Makes creates, renames and removes inside folder `dir` durable (fsync of
    // the folder). A no-op where the platform or file system cannot
    // (Capabilities::folder_flush is then false). Not found: throws NotFound.
    // Failure: throws Error.
    virtual void flush_dir(const std::string& dir) = 0;

    // Makes everything written, created, renamed and removed so far durable
    // (local: syncfs on the root's file system). Every backend must really do
    // it: the apply protocol relies on it after staging with Flush::Deferred
    // and before its journal counts. Failure: throws Error.
    virtual void flush_all() = 0;

    virtual Capabilities capabilities() const = 0;

    // Pre-flight probes: why the backend would refuse to move or remove
    // `path` though the path exists (an immutable or append-only file or
    // folder, a parent folder that cannot be written), or "" when it sees
    // nothing in the way. NotFound when `path` is absent; Error on failure.
    virtual std::string removal_problem(const std::string& path) = 0;
    // Why creating an entry directly inside folder `dir` would be refused, or "".
    virtual std::string creation_problem(const std::string& dir) = 0;
    // Free room on the root's volume; nullopt when the backend cannot tell.
    virtual std::optional<Space> space() = 0;

    // The root as a local folder, when it is one (lets sync scan it directly).
    virtual std::optional<boost::filesystem::path> local_path() const { return std::nullopt; }
};

// A location as a local folder: a plain path ('\' read as '/') or a file://
// URL; nullopt for a scheme with a backend of its own (ssh://, smb://).
// Throws Error, with the same advice everywhere, for what this system cannot
// reach by name: a Windows drive or share path on Linux, another host in a
// file:// URL, an unknown scheme. Nothing is checked on disk.
std::optional<boost::filesystem::path> local_location(const std::string& url_or_path);

// Opens a target by URL or path (transport/registry.cpp has the scheme table):
// - a plain path or file:// URL: the local backend. In a plain path '\' is
//   read as '/' (DESIGN: `\` and `/` alike in user input).
// - a Windows share path `\\server\share\...` or drive path `C:\...`: local
//   on Windows; elsewhere Error telling to mount the share and give the mount
//   point, because Linux would silently read it as a local folder.
// - ssh://[user@]host[:port]/path: the SFTP backend (transport/ssh.hpp).
// - smb://[domain;]user@host[:port]/share/path: the SMB backend
//   (transport/smb.hpp), or Error in a build without it.
// Throws Error when the root does not exist, is not a folder, or the URL is
// malformed or of an unknown scheme.
std::unique_ptr<Transport> open_transport(const std::string& url_or_path, const OpenOptions& options = {});

// `exmsync smb-lister`, the internal command an smb:// transport starts to
// list folders in parallel (smb_lister.hpp): its exit code, or nullopt in a
// build without SMB.
std::optional<int> run_smb_lister();

// The URL with any password in its user part replaced by "***", for messages
// and logs. A plain path is returned unchanged. When unsure where the password
// ends it hides too much rather than too little.
std::string redact_url(const std::string& url);

}  // namespace exmsync::transport
