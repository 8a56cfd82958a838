// The Transport interface: the only way the rest of exmsync touches a target.
//
// A transport is rooted at one folder of one server (a local folder, later an
// SSH or SMB share). It knows nothing about manifests or changesets; the apply
// protocol in sync/ is written once against this interface, which is also why
// a fault-injecting wrapper (tests/support/faulty_transport.hpp) can fail any
// N-th step of it.
//
// Paths: relative to the root, '/'-separated, "" is the root itself. A path
// with a "..", "." or empty component, a leading '/', a backslash or a NUL is
// refused with Error before anything is touched, so one check here covers
// every backend.
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
    // Flushes to stable storage (fsync) unless the transport was opened with
    // OpenOptions::flush_each_file = false, then closes. Throws Error on
    // failure. A failed flush is never retried: after a failed fsync the OS may
    // have dropped the dirty pages, so a retry could report a false success.
    // The Writer is closed afterwards either way; commit() again throws Error.
    virtual void commit() = 0;
    // Gives the file this modification time when it is committed, without a
    // second lookup by path (set_mtime on the Transport does that). Throws
    // Error after commit().
    virtual void set_mtime_on_commit(std::int64_t mtime_ns) = 0;
};

// Chosen when a transport is opened; the same for every backend.
struct OpenOptions {
    // true: Writer::commit() fsyncs each file. false: it only closes, and the
    // caller makes the data durable with one Transport::flush_all() after
    // staging many files (much faster for thousands of small templates).
    bool flush_each_file = true;
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

    // Opens a regular file for reading; never follows a symlink. Not found:
    // throws NotFound. Failure (a symlink, a folder or special file, I/O or
    // permission error): throws Error.
    virtual std::unique_ptr<Reader> open_read(const std::string& path) = 0;

    // Creates a NEW regular file and returns its Writer. The parent must exist.
    // Anything at `path` (a file, folder or even a dangling symlink): throws
    // AlreadyExists. Parent missing: throws NotFound. Failure: throws Error.
    virtual std::unique_ptr<Writer> create(const std::string& path) = 0;

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
    // the folder). A no-op where the platform or file system cannot. Not
    // found: throws NotFound. Failure: throws Error.
    virtual void flush_dir(const std::string& dir) = 0;

    // Makes everything written so far durable in one call where that is
    // cheaper than one flush per file (local: syncfs on the root's file
    // system). Used after staging files with flush_each_file = false.
    // Failure: throws Error. The default does nothing.
    virtual void flush_all() {}

    // The root as a local folder, when it is one (lets sync scan it directly).
    virtual std::optional<boost::filesystem::path> local_path() const { return std::nullopt; }
};

// Opens a target by URL or path (transport/registry.cpp has the scheme table):
// - a plain path or file:// URL: the local backend. In a plain path '\' is
//   read as '/' (DESIGN: `\` and `/` alike in user input).
// - a Windows share path `\\server\share\...`: local on Windows; elsewhere
//   Error telling to mount the share and give the mount point, because Linux
//   would silently read it as the local folder /server/share.
// - ssh:// and smb://: Error "not supported yet by this build" for now.
// Throws Error when the root does not exist, is not a folder, or the URL is
// malformed or of an unknown scheme.
std::unique_ptr<Transport> open_transport(const std::string& url_or_path,
                                          const OpenOptions& options = {});

// The URL with any password in its user part replaced by "***", for messages
// and logs. A plain path is returned unchanged. When unsure where the password
// ends it hides too much rather than too little.
std::string redact_url(const std::string& url);

}  // namespace exmsync::transport
