// write_archive: packs a changeset and its content into one reproducible
// archive (see archive.hpp for the layout).
#include <archive.h>
#include <archive_entry.h>

#include <boost/filesystem/operations.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "manifest/escape.hpp"
#include "sync/archive.hpp"
#include "sync/error.hpp"
#include "platform/files.hpp"

namespace exmsync::sync {
namespace {

namespace fs = boost::filesystem;

// Fixed so that the same inputs give the same bytes (with the same libzstd).
// zstd's default level: packing stays cheap next to the transfer it saves.
constexpr const char* kZstdLevel = "3";
constexpr std::size_t kBufferSize = 64 * 1024;

std::string quote_name(const std::string& name) { return "'" + manifest::escape_path(name) + "'"; }

[[noreturn]] void fail(const std::string& file, const std::string& cause) {
    throw Error("cannot write archive " + file + ": " + cause);
}

// Where the bytes go: stdout, or a temporary file beside `file` that becomes
// `file` only in commit(), so a failure never leaves a partial archive.
class Output {
public:
    explicit Output(const std::string& file) : file_(file) {
        if (file == "-") {
            // Binary on Windows too: main() calls platform::prepare_standard_streams().
            stream_ = stdout;
            return;
        }
        temp_ = fs::path(file).parent_path() / fs::unique_path(fs::path(file).filename().string() + ".tmp-%%%%%%%%");
        platform::Error error;
        stream_ = platform::create_c_file(temp_.string(), error);
        if (!stream_) fail(file_, std::string("cannot create ") + temp_.string() + ": " + error.text());
    }
    ~Output() {
        if (temp_.empty()) return;
        if (stream_) std::fclose(stream_);
        boost::system::error_code ignored;
        fs::remove(temp_, ignored);
    }
    Output(const Output&) = delete;
    Output& operator=(const Output&) = delete;

    FILE* stream() const { return stream_; }

    void commit() {
        if (std::fflush(stream_) != 0) fail(file_, std::strerror(errno));
        if (temp_.empty()) return;
        FILE* stream = stream_;
        stream_ = nullptr;
        // Some file systems only report a failed write when the file closes.
        if (std::fclose(stream) != 0) fail(file_, std::strerror(errno));
        boost::system::error_code ec;
        fs::rename(temp_, file_, ec);
        if (ec) fail(file_, "cannot rename " + temp_.string() + " into place: " + ec.message());
        temp_.clear();
    }

private:
    std::string file_;
    fs::path temp_;
    FILE* stream_ = nullptr;
};

// A local file as a transport::Reader.
class LocalStream : public transport::Reader {
public:
    LocalStream(std::ifstream& in, std::string name) : in_(in), name_(std::move(name)) {
        if (!in_) throw Error("cannot read " + name_);
    }
    std::size_t read(char* buffer, std::size_t size) override {
        in_.read(buffer, static_cast<std::streamsize>(size));
        if (in_.bad()) throw Error("cannot read " + name_);
        return static_cast<std::size_t>(in_.gcount());
    }

private:
    std::ifstream& in_;
    std::string name_;
};

struct WriteDeleter {
    void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryDeleter {
    void operator()(archive_entry* e) const { archive_entry_free(e); }
};

class Packer {
public:
    Packer(const std::string& file, FILE* out) : file_(file), a_(archive_write_new()) {
        configure();
        check(archive_write_open_FILE(a_.get(), out));
    }

    Packer(const std::string& name, const ArchiveSink& sink) : file_(name), a_(archive_write_new()), sink_(&sink) {
        configure();
        check(archive_write_open2(a_.get(), this, nullptr, &Packer::write_to_sink, nullptr, nullptr));
    }

private:
    // The sink's own failure (a lost connection) is the message, not
    // libarchive's "write error".
    static la_ssize_t write_to_sink(archive* a, void* self, const void* data, size_t size) {
        auto* packer = static_cast<Packer*>(self);
        try {
            (*packer->sink_)(static_cast<const char*>(data), size);
            return static_cast<la_ssize_t>(size);
        } catch (...) {
            packer->sink_error_ = std::current_exception();
            archive_set_error(a, EIO, "the stream failed");
            return -1;
        }
    }

    void configure() {
        if (!a_) fail(file_, "out of memory");
        check(archive_write_set_format_pax_restricted(a_.get()));
        check(archive_write_add_filter_zstd(a_.get()));
        check(archive_write_set_filter_option(a_.get(), "zstd", "compression-level", kZstdLevel));
        // Raw path bytes in the pax header whatever the locale: paths are
        // bytes, and a locale-dependent conversion would change the archive.
        check(archive_write_set_format_option(a_.get(), "pax", "hdrcharset", "BINARY"));
        // No zero padding after the zstd frame: readers would take it for a
        // second, broken frame.
        check(archive_write_set_bytes_in_last_block(a_.get(), 1));
    }

public:
    void add(const std::string& name, const std::string& bytes) {
        header(name, bytes.size());
        if (!bytes.empty()) write(bytes.data(), bytes.size());
        check(archive_write_finish_entry(a_.get()));
    }

    // Copies exactly `size` bytes; content that ends early or goes on means
    // the source changed after the changeset was planned.
    void add(const std::string& name, std::uint64_t size, transport::Reader& content) {
        header(name, size);
        std::vector<char> buffer(kBufferSize);
        std::uint64_t left = size;
        while (left > 0) {
            std::size_t n = content.read(buffer.data(), left < buffer.size() ? left : buffer.size());
            if (n == 0) changed(name, size, "only " + std::to_string(size - left) + " bytes came");
            write(buffer.data(), n);
            left -= n;
        }
        if (content.read(buffer.data(), 1) != 0) changed(name, size, "more came");
        check(archive_write_finish_entry(a_.get()));
    }

    void finish() { check(archive_write_close(a_.get())); }

private:
    // Everything that could vary between two runs is pinned: time, owner, mode.
    void header(const std::string& name, std::uint64_t size) {
        std::unique_ptr<archive_entry, EntryDeleter> e(archive_entry_new());
        archive_entry_set_pathname(e.get(), name.c_str());
        archive_entry_set_filetype(e.get(), AE_IFREG);
        archive_entry_set_perm(e.get(), 0644);
        archive_entry_set_size(e.get(), static_cast<la_int64_t>(size));
        archive_entry_set_mtime(e.get(), 0, 0);
        archive_entry_set_uid(e.get(), 0);
        archive_entry_set_gid(e.get(), 0);
        check(archive_write_header(a_.get(), e.get()));
    }

    void write(const char* data, std::size_t size) {
        if (archive_write_data(a_.get(), data, size) != static_cast<la_ssize_t>(size)) check(ARCHIVE_FATAL);
    }

    void check(int status) const {
        if (status != ARCHIVE_OK) {
            if (sink_error_) std::rethrow_exception(sink_error_);
            const char* why = archive_error_string(a_.get());
            fail(file_, why ? why : "libarchive error " + std::to_string(status));
        }
    }

    [[noreturn]] void changed(const std::string& name, std::uint64_t size, const std::string& what) const {
        fail(file_, quote_name(name) + " should hold " + std::to_string(size) + " bytes but " + what +
                        ": the source changed while packing; plan the changeset again");
    }

    std::string file_;
    std::unique_ptr<archive, WriteDeleter> a_;
    const ArchiveSink* sink_ = nullptr;
    std::exception_ptr sink_error_;
};

// Streams the feed into the packer, insisting on archive order (the Write
// ops' order, then the manifest): buffering out-of-order content could need
// as much memory as the whole changeset.
void pack_content(const std::string& file, const Changeset& changeset, ContentFeed& content, Packer& packer) {
    OpListReader writes(changeset.ops, changeset.header, file);
    std::optional<Op> due;
    auto next_write = [&] {
        Op op;
        due.reset();
        while (writes.next(op))
            if (op.kind == OpKind::Write) {
                std::string name = kFilePrefix + op.path;
                if (auto problem = archive_name_problem(name); !problem.empty())
                    fail(file, "cannot carry " + quote_name(op.path) + " in an archive: the path has " + problem);
                due = op;
                return;
            }
    };
    next_write();
    bool manifest_done = false;
    content.each([&](const std::string& name, std::uint64_t size, transport::Reader& reader) {
        std::string expected = manifest_done ? "nothing more" : due ? quote_name(kFilePrefix + due->path) : quote_name(kManifestItem);
        if (manifest_done || (due && name != kFilePrefix + due->path) || (!due && name != kManifestItem))
            fail(file, "the content source delivered " + quote_name(name) + " where " + expected +
                           " was due; it must deliver the written files in changeset order, then the manifest");
        if (!due) {
            packer.add(kArchiveManifest, size, reader);
            manifest_done = true;
            return;
        }
        if (size != due->size)
            fail(file, quote_name(name) + " has " + std::to_string(size) + " bytes where the changeset says " +
                           std::to_string(due->size) + ": the source changed while packing; plan again");
        packer.add(name, due->size, reader);
        next_write();
    });
    if (!manifest_done)
        fail(file, "the content source ended before " + (due ? quote_name(kFilePrefix + due->path) : quote_name(kManifestItem)));
}

}  // namespace

void write_archive(const std::string& file, const Changeset& changeset, ContentFeed& content) {
    Output output(file);
    {
        Packer packer(file, output.stream());
        packer.add(kArchiveMetadata, encode_header(changeset.header));
        std::ifstream ops(platform::stream_path(changeset.ops.string()), std::ios::binary);
        LocalStream ops_reader(ops, changeset.ops.string());
        packer.add(kArchiveOps, fs::file_size(changeset.ops), ops_reader);
        pack_content(file, changeset, content, packer);
        packer.finish();
    }
    // A source that changed while it was read never becomes an archive.
    content.check_unchanged();
    output.commit();
}

void write_archive(const std::string& name, const ArchiveSink& sink, const Changeset& changeset, ContentFeed& content) {
    Packer packer(name, sink);
    packer.add(kArchiveMetadata, encode_header(changeset.header));
    std::ifstream ops(platform::stream_path(changeset.ops.string()), std::ios::binary);
    LocalStream ops_reader(ops, changeset.ops.string());
    packer.add(kArchiveOps, fs::file_size(changeset.ops), ops_reader);
    pack_content(name, changeset, content, packer);
    packer.finish();
    // Before the stream's end is announced: the caller ends it only when
    // this returns, so a changed source never makes a complete archive.
    content.check_unchanged();
}

}  // namespace exmsync::sync
