// The manifest file format, version 1:
//
//   exmsync-manifest<TAB>1
//   root<TAB><hash>
//   <type><TAB><size><TAB><hash><TAB><path>      one line per entry
//   end<TAB><entry count>
//
// type is f (file), d (directory) or l (symlink); hash is 32 lowercase hex
// digits as `xxhsum -H2` prints them; path is escaped (see escape.hpp) and
// lines come in manifest order (see compare_paths). The same tree gives the
// same bytes on any machine. The trailer makes a truncated file detectable.
#pragma once

#include <boost/filesystem/path.hpp>
#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "manifest/entry.hpp"
#include "manifest/tree_hash.hpp"

namespace exmsync::manifest {

inline constexpr int kManifestVersion = 1;

// A forward-only sequence of entries in manifest order.
class EntryStream {
public:
    virtual ~EntryStream() = default;
    // The next entry, or nullptr at the end. Throws Error on bad input.
    virtual const Entry* peek() = 0;
    virtual void pop() = 0;
    // The Merkle root hash of the whole sequence.
    virtual Hash128 root() = 0;
};

// Writes a manifest file. Directory hashes and the root hash are computed here
// from the entries and filled in when each directory completes, so memory
// grows with the tree's depth, not its size.
class ManifestWriter {
public:
    // Creates (or truncates) `file`. Throws Error naming it.
    explicit ManifestWriter(const boost::filesystem::path& file);
    ~ManifestWriter();

    // Entries in manifest order, each after its parent. Throws Error otherwise.
    void add(const Entry& entry);
    // Writes the trailer and closes the file; returns the root hash.
    Hash128 finish();
    std::uint64_t count() const { return count_; }

private:
    void patch(std::uint64_t offset, const std::string& text);
    void flush_buffer();

    boost::filesystem::path file_;
    std::ofstream out_;
    std::string buffer_;
    std::uint64_t flushed_ = 0;  // bytes of the file already handed to out_
    std::uint64_t count_ = 0;
    std::string last_path_;
    std::vector<std::uint64_t> open_dirs_;  // file offsets of open directories' hashes
    TreeHasher hasher_;
};

// Reads and validates a manifest file as a stream. Every check names the file
// and line: unknown version, malformed or truncated lines, bad hex, unsorted or
// duplicate paths, unsafe paths, and directory or root hashes that do not
// match the entries.
class ManifestReader : public EntryStream {
public:
    explicit ManifestReader(const boost::filesystem::path& file);
    ~ManifestReader() override;

    const Entry* peek() override;
    void pop() override;
    Hash128 root() override { return root_; }
    const boost::filesystem::path& file() const { return file_; }

private:
    [[noreturn]] void fail(const std::string& problem) const;
    void read_next();
    void finish_checks();

    boost::filesystem::path file_;
    std::ifstream in_;
    std::uint64_t line_ = 0;
    Hash128 root_;
    std::string text_;  // the line being read
    Entry current_;
    bool has_current_ = false;
    bool ended_ = false;
    std::uint64_t count_ = 0;
    std::string previous_path_;
    std::vector<std::pair<std::string, Hash128>> stated_dir_hashes_;
    std::unique_ptr<TreeHasher> hasher_;
    std::string mismatch_;  // set by the hasher's callback
};

// Reads a whole manifest into memory: for small manifests and tests.
std::vector<Entry> read_all(EntryStream& stream);

// A stream over entries held in memory (already in manifest order).
class VectorStream : public EntryStream {
public:
    explicit VectorStream(std::vector<Entry> entries);
    const Entry* peek() override { return next_ < entries_.size() ? &entries_[next_] : nullptr; }
    void pop() override { ++next_; }
    Hash128 root() override { return root_; }

private:
    std::vector<Entry> entries_;
    std::size_t next_ = 0;
    Hash128 root_;
};

// Writes `entries` (in manifest order) as a manifest file; returns the root hash.
Hash128 write_manifest(const boost::filesystem::path& file, const std::vector<Entry>& entries);

}  // namespace exmsync::manifest
