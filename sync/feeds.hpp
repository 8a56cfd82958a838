// Content feeds for the apply protocol: a source folder (push to folders and
// mounted shares, and pack) and a target's own backups (rollback). The
// archive feed is ArchiveReader in archive.hpp.
#pragma once

#include <boost/filesystem/path.hpp>
#include <fstream>
#include <map>
#include <string>

#include "sync/changeset.hpp"
#include "sync/content.hpp"
#include "transport/transport.hpp"

namespace exmsync::sync {

// A local file as a transport::Reader (the manifest after apply).
class LocalFileReader : public transport::Reader {
public:
    explicit LocalFileReader(const boost::filesystem::path& file);
    std::size_t read(char* buffer, std::size_t size) override;
    std::uint64_t size() const { return size_; }

private:
    boost::filesystem::path file_;
    std::ifstream in_;
    std::uint64_t size_ = 0;
};

// Reads each written file from `source` at its own path, in op order, then
// the manifest from a local file.
class TreeFeed : public ContentFeed {
public:
    TreeFeed(transport::Transport& source, const Changeset& changeset, boost::filesystem::path manifest);
    void each(const Take& take) override;

private:
    transport::Transport& source_;
    const Changeset& changeset_;
    boost::filesystem::path manifest_;
};

// Reads each written file from wherever `where` says it is on `target`
// (path written -> path to read: a backup), then the manifest.
class MappedFeed : public ContentFeed {
public:
    MappedFeed(transport::Transport& target, const Changeset& changeset, std::map<std::string, std::string> where,
               boost::filesystem::path manifest);
    void each(const Take& take) override;

private:
    transport::Transport& target_;
    const Changeset& changeset_;
    std::map<std::string, std::string> where_;
    boost::filesystem::path manifest_;
};

}  // namespace exmsync::sync
