// Content feeds for the apply protocol: a source folder (push to folders and
// mounted shares, and pack) and a target's own backups (rollback). The
// archive feed is ArchiveReader in archive.hpp.
#pragma once

#include <boost/filesystem/path.hpp>
#include <fstream>
#include <string>

#include "sync/apply.hpp"
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

// Reads each written file from the source tree at its own path, in operation
// order, then the manifest from a local file. Each file is hashed as it is
// read and must be what the source's scan recorded, and check_unchanged()
// finds every file it read with the size and mtime the plan recorded: a file
// edited during the push refuses the push ("the source changed during the
// push; run it again") instead of sending a mix.
class TreeFeed : public ContentFeed {
public:
    TreeFeed(transport::Transport& source, const Changeset& changeset, boost::filesystem::path manifest);
    void each(const Take& take) override;
    void check_unchanged() override;

private:
    transport::Transport& source_;
    const Changeset& changeset_;
    boost::filesystem::path manifest_;
};

// Reads each written file from wherever `where` says it is on `target`: a
// local list in operation order of "w TAB escaped path TAB escaped path to
// read" lines (rollback reads from backups; "r" lines, for renames, are
// skipped). Then the manifest.
class MappedFeed : public ContentFeed {
public:
    MappedFeed(transport::Transport& target, const Changeset& changeset, boost::filesystem::path where,
               boost::filesystem::path manifest);
    void each(const Take& take) override;

private:
    transport::Transport& target_;
    const Changeset& changeset_;
    boost::filesystem::path where_;
    boost::filesystem::path manifest_;
};

}  // namespace exmsync::sync
