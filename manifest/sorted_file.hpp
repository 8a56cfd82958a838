// Line files and an external sort: how exmsync keeps lists that grow with the
// file count (changes, operations, journal steps) out of memory. A record is
// one line; callers escape paths (escape.hpp), so a record never holds '\n'.
//
// ExternalSorter sorts any number of records in bounded memory: records fill
// a buffer of `memory` bytes, a full buffer is sorted and written to a run
// file, and reading merges the runs (at most kMaxFanIn at a time, so the open
// files and their buffers stay bounded too).
#pragma once

#include <boost/filesystem/path.hpp>
#include <cstdint>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace exmsync::manifest {

// Reads a local file line by line, without the '\n'. A last line without
// '\n' is still a line.
class LineReader {
public:
    explicit LineReader(const boost::filesystem::path& file, std::size_t buffer = 64 * 1024);
    // false at the end of the file; throws Error naming the file on a read error.
    bool next(std::string& line);
    std::uint64_t line_number() const { return line_; }
    const boost::filesystem::path& file() const { return file_; }

private:
    boost::filesystem::path file_;
    std::ifstream in_;
    std::vector<char> buffer_;
    std::uint64_t line_ = 0;
};

// Appends lines to a new local file; close() reports a failed write.
class LineWriter {
public:
    explicit LineWriter(const boost::filesystem::path& file);
    ~LineWriter();
    void add(std::string_view line);
    void close();
    std::uint64_t count() const { return count_; }
    const boost::filesystem::path& file() const { return file_; }

private:
    void flush();
    boost::filesystem::path file_;
    std::ofstream out_;
    std::string buffer_;
    std::uint64_t count_ = 0;
};

// A temporary local file, removed when this goes out of scope.
class TempFile {
public:
    explicit TempFile(const boost::filesystem::path& directory = {});
    ~TempFile();
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    const boost::filesystem::path& path() const { return path_; }

private:
    boost::filesystem::path path_;
};

class ExternalSorter {
public:
    // A strict weak order on whole records.
    using Less = std::function<bool(std::string_view, std::string_view)>;

    // Small enough that a sort's buffer is a few percent of a scan's memory,
    // large enough that a million records make under a hundred runs.
    static constexpr std::size_t kDefaultMemory = 2u << 20;
    static constexpr std::size_t kMaxFanIn = 16;

    explicit ExternalSorter(Less less, std::size_t memory = kDefaultMemory);
    ~ExternalSorter();
    ExternalSorter(const ExternalSorter&) = delete;
    ExternalSorter& operator=(const ExternalSorter&) = delete;

    void add(std::string_view record);
    std::uint64_t count() const { return count_; }

    // Hands every record to `each` in order (equal records in the order they
    // were added). Call once, after the last add.
    void finish(const std::function<void(std::string_view)>& each);
    // The same into a new local file, one record per line.
    void finish(const boost::filesystem::path& out);

private:
    void spill();
    void merge_down();

    Less less_;
    std::size_t memory_;
    std::vector<std::string> buffer_;
    std::size_t buffered_bytes_ = 0;
    std::vector<std::unique_ptr<TempFile>> runs_;
    std::uint64_t count_ = 0;
    bool finished_ = false;
};

// Merges sorted line files (each already in `less` order) into `each`.
void merge_sorted(const std::vector<boost::filesystem::path>& files, const ExternalSorter::Less& less,
                  const std::function<void(std::string_view)>& each);

}  // namespace exmsync::manifest
