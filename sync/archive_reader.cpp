// ArchiveReader: reads a changeset archive as hostile input. Every entry is
// checked against the metadata before any of its bytes are handed over, and
// no more is decompressed than the metadata declares.
#include <archive.h>
#include <archive_entry.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <string>
#include <vector>

#include "manifest/escape.hpp"
#include "manifest/sorted_file.hpp"
#include "sync/archive.hpp"
#include "sync/error.hpp"
#include "platform/files.hpp"

namespace exmsync::sync {
namespace {

constexpr std::size_t kBlockSize = 64 * 1024;
// Decompressed bytes allowed per entry beyond its data: the ustar header, a
// pax header with a long path, and padding. libarchive itself caps special
// headers, so this only has to be generous, not exact.
constexpr std::uint64_t kHeaderSlack = 64 * 1024;

std::string quote_name(std::string_view name) { return "'" + manifest::escape_path(name) + "'"; }

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

// The archive's name as the system takes it (platform::stream_path): UTF-16
// on Windows, where libarchive's narrow call would read the ANSI code page.
[[maybe_unused]] int open_named(archive* a, const char* name) { return archive_read_open_filename(a, name, kBlockSize); }
[[maybe_unused]] int open_named(archive* a, const wchar_t* name) { return archive_read_open_filename_w(a, name, kBlockSize); }

struct ReadDeleter {
    void operator()(archive* a) const { archive_read_free(a); }
};

// The libarchive handle, with messages that name the archive.
class Source {
public:
    explicit Source(const std::string& file) : name_(file == "-" ? "<stdin>" : file), a_(archive_read_new()) {
        configure();
        int status = file == "-" ? archive_read_open_FILE(a_.get(), stdin)
                                 : open_named(a_.get(), platform::stream_path(file).c_str());
        opened(status);
    }

    Source(const std::string& name, ArchiveReader::ArchiveSource read)
        : name_(name), a_(archive_read_new()), read_(std::move(read)), buffer_(kBlockSize) {
        configure();
        opened(archive_read_open(a_.get(), this, nullptr, &Source::read_from_stream, nullptr));
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
        throw Error("archive " + name_ + ": entry " + quote_name(entry) + " " + problem +
                    "; refusing the whole changeset");
    }
    [[noreturn]] void truncated(const std::string& what) const {
        if (stream_error_) std::rethrow_exception(stream_error_);
        throw Error("archive " + name_ + " is truncated: " + what + "; refusing the whole changeset");
    }
    [[noreturn]] void damaged(const std::string& why = {}) const {
        if (stream_error_) std::rethrow_exception(stream_error_);
        throw Error("archive " + name_ + " is truncated or damaged: " + (why.empty() ? message() : why) +
                    "; refusing the whole changeset");
    }

private:
    void configure() {
        if (!a_) throw Error("cannot read archive " + name_ + ": out of memory");
        // Only what a changeset is made of: less parser code facing hostile input.
        archive_read_support_filter_zstd(a_.get());
        archive_read_support_format_tar(a_.get());
    }

    void opened(int status) {
        if (status != ARCHIVE_OK) open_failed();
        if (archive_filter_code(a_.get(), 0) != ARCHIVE_FILTER_ZSTD) not_a_changeset();
    }

    // The stream's own failure (a lost connection, a sender that gave up)
    // is the message, not libarchive's "truncated".
    static la_ssize_t read_from_stream(archive* a, void* self, const void** block) {
        auto* source = static_cast<Source*>(self);
        try {
            std::size_t n = source->read_(source->buffer_.data(), source->buffer_.size());
            *block = source->buffer_.data();
            return static_cast<la_ssize_t>(n);
        } catch (...) {
            source->stream_error_ = std::current_exception();
            archive_set_error(a, EIO, "the stream failed");
            return -1;
        }
    }

    // libarchive bids for the first header while opening. Filters set up but
    // no tar found: not a changeset. No filters and a system errno: the file
    // cannot be read. Otherwise the zstd stream itself is broken.
    [[noreturn]] void open_failed() const {
        if (stream_error_) std::rethrow_exception(stream_error_);
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
    ArchiveReader::ArchiveSource read_;
    std::vector<char> buffer_;
    std::exception_ptr stream_error_;
};

// Yields exactly one entry's bytes; a stream that ends early is damaged.
class EntryReader : public transport::Reader {
public:
    EntryReader(Source& source, std::string name, std::uint64_t size)
        : source_(source), name_(std::move(name)), left_(size) {}

    std::size_t read(char* buffer, std::size_t size) override {
        if (left_ == 0 || size == 0) return 0;
        std::size_t n = source_.read(buffer, size < left_ ? size : static_cast<std::size_t>(left_));
        if (n == 0) source_.truncated("the data of " + quote_name(name_) + " ends early");
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

// Reads an entry that must come next, of at most `limit` bytes, into `sink`.
template <typename Sink>
void read_fixed_entry(Source& source, const char* want, std::uint64_t limit, Sink&& sink) {
    archive_entry* e = source.next();
    if (!e) source.truncated(std::string("it has no ") + want);
    std::string name = checked_entry(source, e);
    if (name != want) source.refuse(name, std::string("comes where ") + want + " is due");
    std::uint64_t size = size_of(e);
    if (size > limit) source.refuse(name, "is larger than " + std::to_string(limit) + " bytes");
    source.allow(size);
    EntryReader reader(source, name, size);
    std::vector<char> buffer(64 * 1024);
    for (std::uint64_t done = 0; done < size;) {
        std::size_t n = reader.read(buffer.data(), buffer.size());
        sink(buffer.data(), n);
        done += n;
    }
}

}  // namespace

std::string archive_name_problem(std::string_view name) {
    if (auto problem = manifest::path_problem(name); !problem.empty()) return problem;
    // Never used as a path here (contents are matched to their operation),
    // but what Windows would read as traversal has no business in an archive.
    if (name.find('\\') != std::string_view::npos) return "a backslash";
    for (std::size_t start = 0; start < name.size();) {
        auto part = name.substr(start, name.find('/', start) - start);
        if (part.size() >= 2 && std::isalpha(static_cast<unsigned char>(part[0])) && part[1] == ':')
            return "a drive letter";
        start += part.size() + 1;
    }
    return {};
}

struct ArchiveReader::State {
    explicit State(const std::string& file) : source(file) { start(); }
    State(const std::string& name, ArchiveSource read) : source(name, std::move(read)) { start(); }

    void start() {
        std::string text;
        read_fixed_entry(source, kArchiveMetadata, kMaxMetadataBytes,
                         [&](const char* data, std::size_t n) { text.append(data, n); });
        changeset.header = decode_header(text, source.name());
        std::ofstream out(platform::stream_path(ops.path().string()), std::ios::binary);
        read_fixed_entry(source, kArchiveOps, kMaxOpsBytes, [&](const char* data, std::size_t n) {
            out.write(data, static_cast<std::streamsize>(n));
        });
        out.close();
        if (!out) throw Error("cannot write " + ops.path().string() + ": disk full or I/O error");
        changeset.ops = ops.path();
    }

    // Checks one entry after the operations and hands it to `take`.
    void take_entry(archive_entry* e, const Take& take);
    void take_manifest(const std::string& name, std::uint64_t size, const Take& take);
    void take_file(const std::string& name, std::uint64_t size, const Take& take);
    bool next_write(Op& op);

    Source source;
    manifest::TempFile ops;
    Changeset changeset;
    std::unique_ptr<OpListReader> writes;  // the Write ops, in the order their content must come
    bool manifest_seen = false;
    bool started = false;
};

bool ArchiveReader::State::next_write(Op& op) {
    while (writes->next(op))
        if (op.kind == OpKind::Write) return true;
    return false;
}

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
    Op op;
    if (next_write(op)) source.truncated("no content for " + quote_name(op.path));
    manifest_seen = true;
    source.allow(size);
    EntryReader reader(source, name, size);
    take(kManifestItem, size, reader);
}

void ArchiveReader::State::take_file(const std::string& name, std::uint64_t size, const Take& take) {
    Op op;
    if (!next_write(op)) source.refuse(name, "is not a file the changeset writes (or comes twice)");
    if (name != kFilePrefix + op.path)
        source.refuse(name, "comes where the content of " + quote_name(op.path) + " is due (or is not a file the " +
                                "changeset writes)");
    // Checked before any data is read: a header claiming gigabytes that the
    // operations do not declare is a zstd bomb, never decompressed.
    if (size != op.size)
        source.refuse(name, "holds " + std::to_string(size) + " bytes where the changeset says " +
                                std::to_string(op.size));
    source.allow(size);
    EntryReader reader(source, name, size);
    take(name, size, reader);
}

ArchiveReader::ArchiveReader(const std::string& file) : state_(std::make_unique<State>(file)) {}

ArchiveReader::ArchiveReader(const std::string& name, ArchiveSource read)
    : state_(std::make_unique<State>(name, std::move(read))) {}

ArchiveReader::~ArchiveReader() = default;

const Changeset& ArchiveReader::changeset() const { return state_->changeset; }

void ArchiveReader::each(const Take& take) {
    State& s = *state_;
    if (s.started) throw Error("archive " + s.source.name() + " can be read only once");
    s.started = true;
    s.writes = std::make_unique<OpListReader>(s.changeset.ops, s.changeset.header, s.source.name());
    while (archive_entry* e = s.source.next()) s.take_entry(e, take);
    if (!s.manifest_seen) {
        Op op;
        if (s.next_write(op)) s.source.truncated("no content for " + quote_name(op.path));
        s.source.truncated(std::string("no ") + kArchiveManifest);
    }
}

}  // namespace exmsync::sync
