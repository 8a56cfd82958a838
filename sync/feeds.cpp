#include "sync/feeds.hpp"

#include <boost/filesystem/operations.hpp>

#include "manifest/escape.hpp"
#include "manifest/file_system.hpp"
#include "sync/error.hpp"

namespace exmsync::sync {
namespace {

std::string show(const std::string& path) { return "'" + manifest::escape_path(path) + "'"; }

void take_manifest(const ContentFeed::Take& take, const boost::filesystem::path& manifest) {
    LocalFileReader reader(manifest);
    take(kManifestItem, reader.size(), reader);
}

[[noreturn]] void source_changed(const transport::Transport& source, const std::string& path, const char* how) {
    throw SourceChanged("source " + source.describe() + ": " + show(path) + " " + how +
                " during the push, so nothing was sent; run the push again");
}

// Hashes what passes through; at the end the content must be the planned one.
class CheckedReader : public transport::Reader {
public:
    CheckedReader(transport::Reader& inner, const transport::Transport& source, const Op& op)
        : inner_(inner), source_(source), op_(op) {}

    std::size_t read(char* buffer, std::size_t size) override {
        std::size_t n = inner_.read(buffer, size);
        bytes_ += n;
        if (bytes_ > op_.size) source_changed(source_, op_.path, "changed (it grew)");
        hasher_.update(buffer, n);
        if (n == 0 && (bytes_ != op_.size || hasher_.digest() != op_.hash)) source_changed(source_, op_.path, "changed");
        return n;
    }

private:
    transport::Reader& inner_;
    const transport::Transport& source_;
    const Op& op_;
    manifest::StreamHasher hasher_;
    std::uint64_t bytes_ = 0;
};

}  // namespace

LocalFileReader::LocalFileReader(const boost::filesystem::path& file)
    : file_(file), in_(file.string(), std::ios::binary) {
    if (!in_) throw Error("cannot read " + file.string());
    size_ = boost::filesystem::file_size(file);
}

std::size_t LocalFileReader::read(char* buffer, std::size_t size) {
    in_.read(buffer, static_cast<std::streamsize>(size));
    if (in_.bad()) throw Error("cannot read " + file_.string());
    return static_cast<std::size_t>(in_.gcount());
}

TreeFeed::TreeFeed(transport::Transport& source, const Changeset& changeset, boost::filesystem::path manifest)
    : source_(source), changeset_(changeset), manifest_(std::move(manifest)) {}

void TreeFeed::each(const Take& take) {
    OpListReader ops(changeset_.ops, changeset_.header, "being pushed");
    Op op;
    while (ops.next(op)) {
        if (op.kind != OpKind::Write) continue;
        std::unique_ptr<transport::Reader> reader;
        try {
            reader = source_.open_read(op.path);
        } catch (const transport::NotFound&) {
            source_changed(source_, op.path, "was removed");
        }
        CheckedReader checked(*reader, source_, op);
        take(kFilePrefix + op.path, op.size, checked);
    }
    take_manifest(take, manifest_);
}

void TreeFeed::check_unchanged() {
    OpListReader ops(changeset_.ops, changeset_.header, "being pushed");
    Op op;
    while (ops.next(op)) {
        if (op.kind != OpKind::Write) continue;
        auto st = source_.stat(op.path);
        if (!st) source_changed(source_, op.path, "was removed");
        if (st->size != op.size || st->mtime_ns != op.mtime_ns) source_changed(source_, op.path, "changed");
    }
}

MappedFeed::MappedFeed(transport::Transport& target, const Changeset& changeset, boost::filesystem::path where,
                       boost::filesystem::path manifest)
    : target_(target), changeset_(changeset), where_(std::move(where)), manifest_(std::move(manifest)) {}

void MappedFeed::each(const Take& take) {
    OpListReader ops(changeset_.ops, changeset_.header, "being rolled back");
    manifest::LineReader where(where_);
    std::string line;
    Op op;
    while (ops.next(op)) {
        if (op.kind != OpKind::Write) continue;
        // Lines are "w|r TAB path TAB source"; renames need no content.
        do {
            if (!where.next(line)) throw Error("internal: no saved content for " + show(op.path));
        } while (line.rfind("w\t", 0) != 0);
        auto tab = line.find('\t', 2);
        auto path = manifest::unescape_path(std::string_view(line).substr(2, tab - 2));
        auto from = manifest::unescape_path(std::string_view(line).substr(tab + 1));
        if (tab == std::string::npos || !path || !from || *path != op.path)
            throw Error("internal: saved content out of step at " + show(op.path));
        auto reader = target_.open_read(*from);
        take(kFilePrefix + op.path, op.size, *reader);
    }
    take_manifest(take, manifest_);
}

}  // namespace exmsync::sync
