#include "manifest/format.hpp"

#include <array>
#include <charconv>
#include <unordered_map>

#include "manifest/error.hpp"
#include "manifest/escape.hpp"

namespace exmsync::manifest {
namespace {

constexpr const char* kMagic = "exmsync-manifest";
constexpr std::size_t kFlushAt = 64 << 10;
const std::string kZeroHash(32, '0');

std::optional<std::uint64_t> parse_u64(std::string_view text) {
    std::uint64_t value = 0;
    if (text.empty() || (text.size() > 1 && text[0] == '0')) return std::nullopt;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

}  // namespace

// ---- writer ----

ManifestWriter::ManifestWriter(const boost::filesystem::path& file)
    : file_(file),
      out_(file.string(), std::ios::binary | std::ios::trunc),
      hasher_([this](const std::string&, const Hash128& hash) {
          // Directories close innermost first, so the one closing is the last opened.
          patch(open_dirs_.back(), hash.hex());
          open_dirs_.pop_back();
      }) {
    if (!out_) throw Error("cannot write " + file.string() + ": check that its folder exists and is writable");
    buffer_ = std::string(kMagic) + "\t" + std::to_string(kManifestVersion) + "\nroot\t" + kZeroHash + "\n";
}

ManifestWriter::~ManifestWriter() = default;

void ManifestWriter::flush_buffer() {
    out_.write(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
    flushed_ += buffer_.size();
    buffer_.clear();
    if (!out_) throw Error("cannot write " + file_.string() + ": disk full or I/O error");
}

void ManifestWriter::patch(std::uint64_t offset, const std::string& text) {
    if (offset >= flushed_) {
        buffer_.replace(offset - flushed_, text.size(), text);
        return;
    }
    out_.seekp(static_cast<std::streamoff>(offset));
    out_.write(text.data(), static_cast<std::streamsize>(text.size()));
    out_.seekp(0, std::ios::end);
    if (!out_) throw Error("cannot write " + file_.string() + ": disk full or I/O error");
}

void ManifestWriter::add(const Entry& entry) {
    if (auto problem = path_problem(entry.path); !problem.empty())
        throw Error("cannot record '" + escape_path(entry.path) + "' in " + file_.string() + ": " + problem);
    if (count_ > 0 && compare_paths(last_path_, entry.path) >= 0)
        throw Error("internal: entries for " + file_.string() + " out of order at '" + escape_path(entry.path) + "'");
    // Directories close (and patch their hash in) before this entry is added.
    if (!hasher_.add(entry))
        throw Error("internal: '" + escape_path(entry.path) + "' added before its parent directory");
    last_path_ = entry.path;
    ++count_;

    buffer_ += static_cast<char>(entry.type);
    buffer_ += '\t';
    char size[24];
    buffer_.append(size, std::to_chars(size, size + sizeof size, entry.size).ptr);
    buffer_ += '\t';
    if (entry.type == EntryType::Directory) {
        open_dirs_.push_back(flushed_ + buffer_.size());
        buffer_ += kZeroHash;
    } else {
        entry.hash.append_hex(buffer_);
    }
    buffer_ += '\t';
    append_escaped_path(buffer_, entry.path);
    buffer_ += '\n';
    if (buffer_.size() >= kFlushAt) flush_buffer();
}

Hash128 ManifestWriter::finish() {
    Hash128 root = hasher_.finish();
    buffer_ += "end\t" + std::to_string(count_) + "\n";
    patch(std::string(kMagic).size() + 3 + 5, root.hex());
    flush_buffer();
    out_.close();
    if (!out_) throw Error("cannot write " + file_.string() + ": disk full or I/O error");
    return root;
}

Hash128 write_manifest(const boost::filesystem::path& file, const std::vector<Entry>& entries) {
    ManifestWriter writer(file);
    for (const auto& e : entries) writer.add(e);
    return writer.finish();
}

// ---- reader ----

ManifestReader::ManifestReader(const boost::filesystem::path& file) : file_(file), in_(file.string(), std::ios::binary) {
    if (!in_) throw Error("cannot open manifest " + file.string() + ": no such file or not readable");
    std::string line;
    line_ = 1;
    if (!std::getline(in_, line)) fail("empty file; not an exmsync manifest");
    std::array<std::string_view, 2> header;
    if (split_fields(line, header) != 2 || header[0] != kMagic) fail("not an exmsync manifest (no 'exmsync-manifest' header)");
    if (header[1] != std::to_string(kManifestVersion))
        fail("manifest version '" + std::string(header[1]) + "' is not supported (this exmsync reads version " +
             std::to_string(kManifestVersion) + "); upgrade exmsync or rebuild the manifest");
    line_ = 2;
    if (!std::getline(in_, line)) fail("truncated: missing the root line");
    std::array<std::string_view, 2> root;
    std::optional<Hash128> root_hash;
    if (split_fields(line, root) == 2 && root[0] == "root") root_hash = Hash128::from_hex(root[1]);
    if (!root_hash) fail("expected 'root<TAB><32 hex digits>'");
    root_ = *root_hash;
    hasher_ = std::make_unique<TreeHasher>([this](const std::string& path, const Hash128& hash) {
        auto stated = stated_dir_hashes_.back();
        stated_dir_hashes_.pop_back();
        if (mismatch_.empty() && (stated.first != path || stated.second != hash))
            mismatch_ = "hash of directory '" + escape_path(path) + "' does not match its entries";
    });
    read_next();
}

ManifestReader::~ManifestReader() = default;

void ManifestReader::fail(const std::string& problem) const {
    throw Error("manifest " + file_.string() + " line " + std::to_string(line_) + ": " + problem +
                "; regenerate it with 'exmsync manifest'");
}

void ManifestReader::finish_checks() {
    Hash128 computed = hasher_->finish();
    if (!mismatch_.empty()) fail(mismatch_);
    if (computed != root_) fail("root hash does not match the entries");
}

void ManifestReader::read_next() {
    // Runs once per entry of every manifest read (diff reads two): the line
    // and the entry's path reuse their buffers.
    has_current_ = false;
    if (ended_) return;
    ++line_;
    if (!std::getline(in_, text_)) fail("truncated: no 'end' line");
    if (in_.eof()) fail("truncated: last line has no newline");
    std::array<std::string_view, 4> fields;
    const std::size_t found = split_fields(text_, fields);
    if (found == 2 && fields[0] == "end") {
        auto count = parse_u64(fields[1]);
        if (!count) fail("bad entry count '" + std::string(fields[1]) + "'");
        if (*count != count_) fail("'end' says " + std::to_string(*count) + " entries, file has " + std::to_string(count_));
        finish_checks();
        if (in_.peek() != std::char_traits<char>::eof()) {
            ++line_;
            fail("data after the 'end' line");
        }
        ended_ = true;
        return;
    }
    if (found != 4) fail("expected 4 tab-separated fields, found " + std::to_string(found));
    Entry& entry = current_;
    if (fields[0] == "f") entry.type = EntryType::File;
    else if (fields[0] == "d") entry.type = EntryType::Directory;
    else if (fields[0] == "l") entry.type = EntryType::Symlink;
    else fail("unknown entry type '" + std::string(fields[0]) + "' (expected f, d or l)");
    auto size = parse_u64(fields[1]);
    if (!size) fail("bad size '" + std::string(fields[1]) + "'");
    if (entry.type == EntryType::Directory && *size != 0) fail("directory with a non-zero size");
    entry.size = *size;
    auto hash = Hash128::from_hex(fields[2]);
    if (!hash) fail("bad hash '" + std::string(fields[2]) + "' (expected 32 lowercase hex digits)");
    entry.hash = *hash;
    if (!unescape_path_into(fields[3], entry.path)) fail("bad escape in path '" + std::string(fields[3]) + "'");
    if (auto problem = path_problem(entry.path); !problem.empty()) fail("unsafe path '" + std::string(fields[3]) + "': " + problem);
    if (count_ > 0) {
        int order = compare_paths(previous_path_, entry.path);
        if (order == 0) fail("duplicate path '" + std::string(fields[3]) + "'");
        if (order > 0) fail("path '" + std::string(fields[3]) + "' is out of order (entries must be sorted)");
    }
    if (!hasher_->add(entry)) fail("'" + std::string(fields[3]) + "' comes without its parent directory");
    if (!mismatch_.empty()) fail(mismatch_);
    if (entry.type == EntryType::Directory) stated_dir_hashes_.emplace_back(entry.path, entry.hash);
    previous_path_ = entry.path;
    ++count_;
    has_current_ = true;
}

const Entry* ManifestReader::peek() { return has_current_ ? &current_ : nullptr; }

void ManifestReader::pop() {
    if (has_current_) read_next();
}

std::vector<Entry> read_all(EntryStream& stream) {
    std::vector<Entry> out;
    while (const Entry* e = stream.peek()) {
        out.push_back(*e);
        stream.pop();
    }
    return out;
}

VectorStream::VectorStream(std::vector<Entry> entries) : entries_(std::move(entries)) {
    // Directory hashes are filled in from the children, as the writer does.
    std::unordered_map<std::string, std::size_t> directories;
    for (std::size_t i = 0; i < entries_.size(); ++i)
        if (entries_[i].type == EntryType::Directory) directories.emplace(entries_[i].path, i);
    TreeHasher hasher([&](const std::string& path, const Hash128& hash) { entries_[directories.at(path)].hash = hash; });
    for (const auto& e : entries_)
        if (!hasher.add(e)) throw Error("internal: '" + escape_path(e.path) + "' listed before its parent directory");
    root_ = hasher.finish();
}

}  // namespace exmsync::manifest
