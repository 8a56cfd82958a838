// ArchiveReader: reads a changeset archive as hostile input. Every entry is
// checked against the metadata before any of its bytes are handed over, and
// no more is decompressed than the metadata declares.
#include <archive.h>
#include <archive_entry.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string>

#include "manifest/escape.hpp"
#include "sync/archive.hpp"
#include "sync/error.hpp"

namespace exmsync::sync {
namespace {

constexpr std::size_t kBlockSize = 64 * 1024;
// Decompressed bytes allowed per entry beyond its data: the ustar header, a
// pax header with a long path, and padding. libarchive itself caps special
// headers, so this only has to be generous, not exact.
constexpr std::uint64_t kHeaderSlack = 64 * 1024;

std::string quoted(std::string_view name) { return "'" + manifest::escape_path(name) + "'"; }

const char* kind_name(const archive_entry* e) {
    if (archive_entry_hardlink(const_cast<archive_entry*>(e))) return "a hard link";
    switch (archive_entry_filetype(const_cast<archive_entry*>(e))) {
        case AE_IFREG: return nullptr;
        case AE_IFLNK: return "a symlink";
        case AE_IFDIR: return "a directory";
        case AE_IFCHR: return "a character device";
        case AE_IFBLK: return "a block device";
        case AE_IFIFO: return "a FIFO";
        case AE_IFSOCK: return "a socket";
        default: return "not a regular file";
    }
}

struct ReadDeleter {
    void operator()(archive* a) const { archive_read_free(a); }
};

// The libarchive handle, with messages that name the archive.
class Source {
public:
    explicit Source(const std::string& file) : name_(file == "-" ? "<stdin>" : file), a_(archive_read_new()) {
        if (!a_) throw Error("cannot read archive " + name_ + ": out of memory");
        // Only what a changeset is made of: less parser code facing hostile input.
        archive_read_support_filter_zstd(a_.get());
        archive_read_support_format_tar(a_.get());
        int status = file == "-" ? archive_read_open_FILE(a_.get(), stdin)
                                 : archive_read_open_filename(a_.get(), file.c_str(), kBlockSize);
        if (status != ARCHIVE_OK) open_failed();
        if (archive_filter_code(a_.get(), 0) != ARCHIVE_FILTER_ZSTD) not_a_changeset();
    }

    const std::string& name() const { return name_; }

    // The next entry, or nullptr at the end of the archive.
    archive_entry* next() {
        archive_entry* entry = nullptr;
        int status = archive_read_next_header(a_.get(), &entry);
        if (status == ARCHIVE_EOF) return nullptr;
        // Even a warning: libarchive warns when it had to guess at a header.
        if (status != ARCHIVE_OK) damaged();
        // Headers between entries are small; more means the stream is not
        // the archive the metadata describes (a bomb in disguise).
        if (static_cast<std::uint64_t>(archive_filter_bytes(a_.get(), 0)) > allowed_) damaged("more data than declared");
        allowed_ += kHeaderSlack;
        return entry;
    }

    // Lets the current entry's `size` bytes be decompressed.
    void allow(std::uint64_t size) { allowed_ += size; }

    std::size_t read(char* buffer, std::size_t size) {
        la_ssize_t n = archive_read_data(a_.get(), buffer, size);
        if (n < 0) damaged();
        return static_cast<std::size_t>(n);
    }

    [[noreturn]] void refuse(std::string_view entry, const std::string& problem) const {
        throw Error("archive " + name_ + ": entry " + quoted(entry) + " " + problem +
                    "; refusing the whole changeset");
    }
    [[noreturn]] void truncated(const std::string& what) const {
        throw Error("archive " + name_ + " is truncated: " + what + "; refusing the whole changeset");
    }
    [[noreturn]] void damaged(const std::string& why = {}) const {
        throw Error("archive " + name_ + " is truncated or damaged: " + (why.empty() ? message() : why) +
                    "; refusing the whole changeset");
    }

private:
    // libarchive bids for the first header while opening. Filters set up but
    // no tar found: not a changeset. No filters and a system errno: the file
    // cannot be read. Otherwise the zstd stream itself is broken.
    [[noreturn]] void open_failed() const {
        if (archive_filter_count(a_.get()) > 0) not_a_changeset(archive_filter_code(a_.get(), 0) == ARCHIVE_FILTER_ZSTD);
        int error_number = archive_errno(a_.get());
        if (error_number > 0) throw Error("cannot read archive " + name_ + ": " + std::strerror(error_number));
        damaged();
    }
    // zstd without a tar inside is as likely a damaged changeset as a
    // foreign file: the writer's zstd frames carry no checksum.
    [[noreturn]] void not_a_changeset(bool is_zstd = false) const {
        throw Error(name_ + " is not an exmsync changeset (expected a zstd-compressed tar)" +
                    (is_zstd ? "; it is zstd-compressed but holds no tar, so it may be damaged" : ""));
    }
    std::string message() const {
        const char* why = archive_error_string(a_.get());
        return why ? why : "unknown libarchive error";
    }

    std::string name_;
    std::unique_ptr<archive, ReadDeleter> a_;
    std::uint64_t allowed_ = kHeaderSlack;
};

// Yields exactly one entry's bytes; a stream that ends early is damaged.
class EntryReader : public transport::Reader {
public:
    EntryReader(Source& source, std::string name, std::uint64_t size)
        : source_(source), name_(std::move(name)), left_(size) {}

    std::size_t read(char* buffer, std::size_t size) override {
        if (left_ == 0 || size == 0) return 0;
        std::size_t n = source_.read(buffer, size < left_ ? size : static_cast<std::size_t>(left_));
        if (n == 0) source_.truncated("the data of " + quoted(name_) + " ends early");
        left_ -= n;
        return n;
    }

private:
    Source& source_;
    std::string name_;
    std::uint64_t left_;
};

// The entry's name once it is known to be a safe, regular, sized file.
std::string checked_entry(Source& source, archive_entry* e) {
    const char* raw = archive_entry_pathname(e);
    if (!raw) source.refuse("?", "has a name that cannot be read");
    std::string name = raw;
    if (const char* kind = kind_name(e)) source.refuse(name, std::string("is ") + kind + ", not a regular file");
    if (auto problem = archive_name_problem(name); !problem.empty())
        source.refuse(name, "has an unsafe path (" + problem + ")");
    if (archive_entry_sparse_count(e) > 0) source.refuse(name, "is a sparse file");
    if (!archive_entry_size_is_set(e) || archive_entry_size(e) < 0) source.refuse(name, "has no size");
    return name;
}

std::uint64_t size_of(archive_entry* e) { return static_cast<std::uint64_t>(archive_entry_size(e)); }

Changeset read_metadata(Source& source) {
    archive_entry* e = source.next();
    if (!e) source.truncated("it holds no entries");
    std::string name = checked_entry(source, e);
    if (name != kArchiveMetadata) source.refuse(name, std::string("comes first instead of ") + kArchiveMetadata);
    std::uint64_t size = size_of(e);
    if (size > kMaxMetadataBytes) source.refuse(name, "is larger than " + std::to_string(kMaxMetadataBytes) + " bytes");
    source.allow(size);
    std::string text(size, '\0');
    EntryReader reader(source, name, size);
    for (std::size_t done = 0; done < size;) done += reader.read(text.data() + done, size - done);
    return decode(text, source.name());
}

}  // namespace

std::string archive_name_problem(std::string_view name) { return changeset_path_problem(name); }

struct ArchiveReader::State {
    explicit State(const std::string& file) : source(file), changeset(read_metadata(source)) {}

    // Checks one entry after the metadata and hands it to `take`.
    void take_entry(archive_entry* e, const Take& take);
    void take_manifest(const std::string& name, std::uint64_t size, const Take& take);
    void take_file(const std::string& name, std::uint64_t size, const Take& take);
    void check_complete() const;

    Source source;
    Changeset changeset;
    std::map<std::string, const Op*> unseen;  // "files/<path>" not yet in the archive
    std::set<std::string> seen;
    bool manifest_seen = false;
    bool started = false;
};

void ArchiveReader::State::take_entry(archive_entry* e, const Take& take) {
    std::string name = checked_entry(source, e);
    if (name == kArchiveManifest) return take_manifest(name, size_of(e), take);
    if (manifest_seen) source.refuse(name, std::string("comes after ") + kArchiveManifest);
    if (name.rfind(kFilePrefix, 0) != 0) source.refuse(name, std::string("is not under ") + kFilePrefix);
    take_file(name, size_of(e), take);
}

void ArchiveReader::State::take_manifest(const std::string& name, std::uint64_t size, const Take& take) {
    if (manifest_seen) source.refuse(name, "appears twice");
    if (size > kMaxManifestBytes) source.refuse(name, "is larger than " + std::to_string(kMaxManifestBytes) + " bytes");
    manifest_seen = true;
    source.allow(size);
    EntryReader reader(source, name, size);
    take(kManifestItem, size, reader);
}

void ArchiveReader::State::take_file(const std::string& name, std::uint64_t size, const Take& take) {
    if (seen.count(name)) source.refuse(name, "appears twice");
    auto it = unseen.find(name);
    if (it == unseen.end()) source.refuse(name, "is not a file the changeset writes");
    // Checked before any data is read: a header claiming gigabytes that the
    // metadata does not declare is a zstd bomb, never decompressed.
    if (size != it->second->size)
        source.refuse(name, "holds " + std::to_string(size) + " bytes where the changeset says " +
                                std::to_string(it->second->size));
    seen.insert(name);
    unseen.erase(it);
    source.allow(size);
    EntryReader reader(source, name, size);
    take(name, size, reader);
}

void ArchiveReader::State::check_complete() const {
    for (const auto& op : changeset.ops)
        if (op.kind == OpKind::Write && unseen.count(kFilePrefix + op.path))
            source.truncated("no content for " + quoted(op.path));
    if (!manifest_seen) source.truncated(std::string("no ") + kArchiveManifest);
}

ArchiveReader::ArchiveReader(const std::string& file) : state_(std::make_unique<State>(file)) {}

ArchiveReader::~ArchiveReader() = default;

const Changeset& ArchiveReader::changeset() const { return state_->changeset; }

void ArchiveReader::each(const Take& take) {
    State& s = *state_;
    if (s.started) throw Error("archive " + s.source.name() + " can be read only once");
    s.started = true;
    for (const auto& op : s.changeset.ops)
        if (op.kind == OpKind::Write) s.unseen.emplace(kFilePrefix + op.path, &op);
    while (archive_entry* e = s.source.next()) s.take_entry(e, take);
    s.check_complete();
}

}  // namespace exmsync::sync
