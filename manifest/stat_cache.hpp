// The stat cache: a local file that remembers, per path, the device, inode,
// size, mtime and ctime a file had when it was hashed, and the hash. A rescan
// reuses the hash only when all five still match, so an unchanged tree is
// rescanned without reading file content.
//
// Racy clean (as git does it): a file whose mtime is too close to the moment
// it was scanned might be modified again within the same timestamp tick
// without its stat changing, so such a file is never cached; the next scan
// hashes it again.
//
// Format, version 1, records in manifest order:
//   exmsync-statcache<TAB>1
//   <device><TAB><inode><TAB><size><TAB><mtime ns><TAB><ctime ns><TAB><hash><TAB><path>
//   end<TAB><record count>
#pragma once

#include <boost/filesystem/path.hpp>
#include <fstream>
#include <optional>
#include <string>

#include "manifest/entry.hpp"
#include "manifest/file_system.hpp"

namespace exmsync::manifest {

// Coarsest timestamp granularity of the file systems exmsync meets (FAT and
// some SMB servers keep 2 seconds).
inline constexpr std::int64_t kRacyWindowNs = 2'000'000'000;

// Whether a file with this stat, seen by a scan that started at
// `scan_start_ns`, may be cached.
bool is_cacheable(const FileStat& stat, std::int64_t scan_start_ns);

std::int64_t now_ns();

// Reads a cache file forward, in step with a scan that visits paths in
// manifest order. A missing file is an empty cache.
class StatCacheReader {
public:
    explicit StatCacheReader(const boost::filesystem::path& file);
    // The cached hash of `path`, if its stat matches. Paths must be asked in
    // manifest order. Throws Error (with line number) on a corrupt cache.
    std::optional<Hash128> lookup(const std::string& path, const FileStat& stat);
    // The next record, in order, for copying a cache into a new one (not
    // mixed with lookup()); false at the end.
    bool next(std::string& path, FileStat& stat, Hash128& hash);
    // Lets go of the file, so that a new cache can replace it: Windows
    // refuses to replace a file that is open.
    void close();

private:
    [[noreturn]] void fail(const std::string& problem) const;
    void advance();

    boost::filesystem::path file_;
    std::ifstream in_;
    std::uint64_t line_ = 0;
    std::uint64_t count_ = 0;
    bool ended_ = true;
    std::string text_;       // the line being read
    std::string next_path_;  // its path, until it is found in order
    std::string path_;
    FileStat stat_;
    Hash128 hash_;
};

// Writes a new cache to a temporary file beside the target; commit() renames
// it into place so a crash never leaves a half-written cache.
class StatCacheWriter {
public:
    explicit StatCacheWriter(const boost::filesystem::path& file);
    ~StatCacheWriter();
    void add(const std::string& path, const FileStat& stat, const Hash128& hash);
    void commit();

private:
    boost::filesystem::path file_;
    boost::filesystem::path temp_;
    std::ofstream out_;
    std::string buffer_;
    std::uint64_t count_ = 0;
    bool committed_ = false;
};

}  // namespace exmsync::manifest
