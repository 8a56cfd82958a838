#include "manifest/stat_cache.hpp"

#include <array>
#include <boost/filesystem/operations.hpp>
#include <charconv>
#include <chrono>

#include "manifest/error.hpp"
#include "manifest/escape.hpp"
#include "platform/files.hpp"

namespace exmsync::manifest {
namespace {

constexpr const char* kMagic = "exmsync-statcache";

template <typename Int>
bool parse_int(std::string_view text, Int& value) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

}  // namespace

bool is_cacheable(const FileStat& stat, std::int64_t scan_start_ns) {
    return stat.mtime_ns + kRacyWindowNs < scan_start_ns && stat.ctime_ns + kRacyWindowNs < scan_start_ns;
}

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

void StatCacheReader::close() {
    in_.close();
    ended_ = true;
}

StatCacheReader::StatCacheReader(const boost::filesystem::path& file) : file_(file) {
    boost::system::error_code ec;
    if (!boost::filesystem::exists(file, ec)) return;
    in_.open(platform::stream_path(file.string()), std::ios::binary);
    if (!in_) fail("cannot open it");
    std::string header;
    line_ = 1;
    if (!std::getline(in_, header) || header != std::string(kMagic) + "\t1")
        fail("not a version 1 stat cache");
    ended_ = false;
    advance();
}

void StatCacheReader::fail(const std::string& problem) const {
    throw Error("stat cache " + file_.string() + " line " + std::to_string(line_) + ": " + problem +
                "; delete the file (it is rebuilt on the next scan) or pass --no-cache");
}

void StatCacheReader::advance() {
    // Runs once per file on every scan: the line and path buffers are reused.
    ++line_;
    if (!std::getline(in_, text_) || in_.eof()) fail("truncated");
    std::array<std::string_view, 7> f;
    const std::size_t fields = split_fields(text_, f);
    if (fields == 2 && f[0] == "end") {
        std::uint64_t count;
        if (!parse_int(f[1], count) || count != count_) fail("record count does not match");
        ended_ = true;
        return;
    }
    FileStat st;
    st.kind = FileKind::File;
    auto hash = fields == 7 ? Hash128::from_hex(f[5]) : std::nullopt;
    if (fields != 7 || !parse_int(f[0], st.device) || !parse_int(f[1], st.inode) || !parse_int(f[2], st.size) ||
        !parse_int(f[3], st.mtime_ns) || !parse_int(f[4], st.ctime_ns) || !hash ||
        !unescape_path_into(f[6], next_path_) || !path_problem(next_path_).empty())
        fail("malformed record");
    if (count_ > 0 && compare_paths(path_, next_path_) >= 0) fail("records out of order");
    path_.swap(next_path_);
    stat_ = st;
    hash_ = *hash;
    ++count_;
}

std::optional<Hash128> StatCacheReader::lookup(const std::string& path, const FileStat& stat) {
    while (!ended_ && compare_paths(path_, path) < 0) advance();
    if (ended_ || path_ != path || !(stat_ == stat)) return std::nullopt;
    return hash_;
}

bool StatCacheReader::next(std::string& path, FileStat& stat, Hash128& hash) {
    if (ended_) return false;
    path = path_;
    stat = stat_;
    hash = hash_;
    advance();
    return true;
}

StatCacheWriter::StatCacheWriter(const boost::filesystem::path& file)
    : file_(file), temp_(file.string() + boost::filesystem::unique_path(".%%%%%%%%.tmp").string()) {
    out_.open(platform::stream_path(temp_.string()), std::ios::binary | std::ios::trunc);
    if (!out_) throw Error("cannot write stat cache " + temp_.string() + "; check that the folder is writable or pass --no-cache");
    buffer_ = std::string(kMagic) + "\t1\n";
}

StatCacheWriter::~StatCacheWriter() {
    if (committed_) return;
    out_.close();
    boost::system::error_code ec;
    boost::filesystem::remove(temp_, ec);
}

void StatCacheWriter::add(const std::string& path, const FileStat& stat, const Hash128& hash) {
    // Called once per file on every scan: numbers are formatted in place.
    auto number = [this](auto value) {
        char text[24];
        auto end = std::to_chars(text, text + sizeof text, value).ptr;
        buffer_.append(text, end);
        buffer_ += '\t';
    };
    number(stat.device);
    number(stat.inode);
    number(stat.size);
    number(stat.mtime_ns);
    number(stat.ctime_ns);
    hash.append_hex(buffer_);
    buffer_ += '\t';
    append_escaped_path(buffer_, path);
    buffer_ += '\n';
    ++count_;
    if (buffer_.size() > (64 << 10)) {
        out_.write(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
        buffer_.clear();
    }
}

void StatCacheWriter::commit() {
    buffer_ += "end\t" + std::to_string(count_) + "\n";
    out_.write(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
    out_.close();
    if (!out_) throw Error("cannot write stat cache " + temp_.string() + ": disk full or I/O error");
    boost::system::error_code ec;
    boost::filesystem::rename(temp_, file_, ec);
    if (ec) throw Error("cannot replace stat cache " + file_.string() + ": " + ec.message());
    committed_ = true;
}

}  // namespace exmsync::manifest
