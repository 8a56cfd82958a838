// Changeset archives: how one changeset travels to its targets (DESIGN.md,
// "Changesets"). A pax tar compressed with zstd, written and read with
// libarchive, holding in this order:
//   1. "exmsync/changeset.json"  the header: encode_header() (format version 2)
//   2. "exmsync/ops"             the operation list, one JSON line per op
//   3. "files/<path>"            the content of every Write op, in op order
//   4. "exmsync/manifest"        the target's manifest after apply
// Entry names are the raw path bytes (pax headers, hdrcharset=BINARY), so any
// path a manifest can hold round-trips whatever the process locale.
//
// Both sides stream: the writer copies the operation list from its file and
// each content from the feed; the reader copies the operation list to a local
// file (checked whole against the header's counts and hash before anything
// is staged) and hands each content over as it decompresses it. Memory does
// not grow with the number of operations.
//
// The reader treats every archive as hostile: it refuses the whole changeset
// at the first entry that is not what the header and the operations announce,
// before handing over any of that entry's bytes, and never decompresses more
// than they declare.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "sync/changeset.hpp"
#include "sync/content.hpp"

namespace exmsync::sync {

// The entries besides "files/<path>".
inline constexpr const char* kArchiveMetadata = "exmsync/changeset.json";
inline constexpr const char* kArchiveOps = "exmsync/ops";
inline constexpr const char* kArchiveManifest = "exmsync/manifest";

// Limits the reader enforces before reading an entry's data.
inline constexpr std::uint64_t kMaxMetadataBytes = 1ull << 20;
inline constexpr std::uint64_t kMaxOpsBytes = 16ull << 30;
inline constexpr std::uint64_t kMaxManifestBytes = 16ull << 30;

// Empty when `name` is a safe entry name, else why not: absolute, a "..",
// "." or empty component, a backslash, a drive letter ("C:"), a NUL.
// The writer applies it to "files/<path>" too, so it never makes an archive
// the reader would refuse.
std::string archive_name_problem(std::string_view name);

// Writes the archive for `changeset` to `file` ("-": stdout). The feed must
// deliver "files/<path>" for every Write op in op order, then "manifest";
// anything else throws Error. The same inputs give the same bytes: mtime 0,
// uid/gid 0, no owner names, mode 0644, fixed zstd level.
// A file is written to a temporary beside it and renamed into place only
// after the feed's check_unchanged() passed, so a failure leaves nothing
// half-written (stdout cannot promise that).
// Throws sync::Error naming the file and the cause, including "source changed
// while packing" when an item's content is shorter or longer than its size.
void write_archive(const std::string& file, const Changeset& changeset, ContentFeed& content);

// The same into a stream (the agent mode's connection), named `name` in
// messages. The sink's exceptions propagate. The caller must not treat the
// stream as complete unless this returns: it ends with the feed's
// check_unchanged(), after the last byte was written.
using ArchiveSink = std::function<void(const char* data, std::size_t size)>;
void write_archive(const std::string& name, const ArchiveSink& sink, const Changeset& changeset, ContentFeed& content);

// Reads an archive from a file or "-" (stdin). Only libarchive's tar reader
// and zstd filter are enabled.
class ArchiveReader : public ContentFeed {
public:
    // Opens the archive, reads and checks the header, and copies the
    // operation list to a local file (checked when it is read: its counts
    // and hash must match the header). Throws sync::Error: not a changeset,
    // an unsupported version, damaged, or hostile.
    explicit ArchiveReader(const std::string& file);
    // The same from a stream: `read` fills up to `size` bytes, 0 at the end;
    // its exceptions propagate as they are. `name` is for messages.
    using ArchiveSource = std::function<std::size_t(char* buffer, std::size_t size)>;
    ArchiveReader(const std::string& name, ArchiveSource read);
    ~ArchiveReader() override;
    ArchiveReader(const ArchiveReader&) = delete;
    ArchiveReader& operator=(const ArchiveReader&) = delete;

    // The header and the local copy of the operation list.
    const Changeset& changeset() const;

    // Streams the remaining entries once: "files/<path>" (size = the op's
    // size) and "manifest". Each entry is checked before `take` sees it; the
    // Reader yields exactly the entry's bytes. Throws sync::Error naming the
    // archive and the entry when anything is wrong, including content missing
    // at the end; a damaged stream while `take` reads throws sync::Error too.
    // Calling it a second time throws Error.
    void each(const Take& take) override;

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace exmsync::sync
