#include "sync/feeds.hpp"

#include <boost/filesystem/operations.hpp>

#include "sync/error.hpp"

namespace exmsync::sync {

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

namespace {

void take_manifest(const ContentFeed::Take& take, const boost::filesystem::path& manifest) {
    LocalFileReader reader(manifest);
    take(kManifestItem, reader.size(), reader);
}

}  // namespace

TreeFeed::TreeFeed(transport::Transport& source, const Changeset& changeset, boost::filesystem::path manifest)
    : source_(source), changeset_(changeset), manifest_(std::move(manifest)) {}

void TreeFeed::each(const Take& take) {
    for (const auto& op : changeset_.ops) {
        if (op.kind != OpKind::Write) continue;
        auto reader = source_.open_read(op.path);
        take(kFilePrefix + op.path, op.size, *reader);
    }
    take_manifest(take, manifest_);
}

MappedFeed::MappedFeed(transport::Transport& target, const Changeset& changeset,
                       std::map<std::string, std::string> where, boost::filesystem::path manifest)
    : target_(target), changeset_(changeset), where_(std::move(where)), manifest_(std::move(manifest)) {}

void MappedFeed::each(const Take& take) {
    for (const auto& op : changeset_.ops) {
        if (op.kind != OpKind::Write) continue;
        auto it = where_.find(op.path);
        if (it == where_.end()) throw Error("no saved content for '" + op.path + "'");
        auto reader = target_.open_read(it->second);
        take(kFilePrefix + op.path, op.size, *reader);
    }
    take_manifest(take, manifest_);
}

}  // namespace exmsync::sync
