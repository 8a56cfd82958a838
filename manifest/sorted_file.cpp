#include "manifest/sorted_file.hpp"

#include <algorithm>
#include <boost/filesystem/operations.hpp>
#include <queue>

#include "manifest/error.hpp"
#include "platform/files.hpp"

namespace exmsync::manifest {
namespace fs = boost::filesystem;

namespace {
// Each run being merged reads through a buffer this size: kMaxFanIn of them
// stay well below the sort buffer itself.
constexpr std::size_t kRunReadBuffer = 32 * 1024;
constexpr std::size_t kWriteFlushAt = 64 * 1024;
}  // namespace

// ---- LineReader ----

LineReader::LineReader(const fs::path& file, std::size_t buffer) : file_(file), buffer_(buffer) {
    in_.rdbuf()->pubsetbuf(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
    in_.open(platform::stream_path(file.string()), std::ios::binary);
    if (!in_) throw Error("cannot read " + file.string() + ": no such file or not readable");
}

bool LineReader::next(std::string& line) {
    if (!std::getline(in_, line)) {
        if (in_.bad()) throw Error("cannot read " + file_.string() + ": I/O error");
        return false;
    }
    ++line_;
    return true;
}

// ---- LineWriter ----

LineWriter::LineWriter(const fs::path& file) : file_(file), out_(file.string(), std::ios::binary | std::ios::trunc) {
    if (!out_) throw Error("cannot write " + file.string() + ": check that its folder exists and is writable");
}

LineWriter::~LineWriter() = default;

void LineWriter::add(std::string_view line) {
    buffer_.append(line);
    buffer_ += '\n';
    ++count_;
    if (buffer_.size() >= kWriteFlushAt) flush();
}

void LineWriter::flush() {
    out_.write(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
    buffer_.clear();
    if (!out_) throw Error("cannot write " + file_.string() + ": disk full or I/O error");
}

void LineWriter::close() {
    flush();
    out_.close();
    if (!out_) throw Error("cannot write " + file_.string() + ": disk full or I/O error");
}

// ---- TempFile ----

TempFile::TempFile(const fs::path& directory) {
    fs::path dir = directory.empty() ? fs::temp_directory_path() : directory;
    path_ = dir / fs::unique_path("exmsync-%%%%-%%%%-%%%%.tmp");
}

TempFile::~TempFile() {
    boost::system::error_code ec;
    fs::remove(path_, ec);
}

// ---- merging ----

void merge_sorted(const std::vector<fs::path>& files, const ExternalSorter::Less& less,
                  const std::function<void(std::string_view)>& each) {
    struct Head {
        std::unique_ptr<LineReader> reader;
        std::string line;
        std::size_t index;  // ties go to the earlier file: the merge is stable
    };
    std::vector<Head> heads;
    for (std::size_t i = 0; i < files.size(); ++i) {
        Head h{std::make_unique<LineReader>(files[i], kRunReadBuffer), {}, i};
        if (h.reader->next(h.line)) heads.push_back(std::move(h));
    }
    auto after = [&](std::size_t a, std::size_t b) {
        if (less(heads[b].line, heads[a].line)) return true;
        if (less(heads[a].line, heads[b].line)) return false;
        return heads[a].index > heads[b].index;
    };
    std::priority_queue<std::size_t, std::vector<std::size_t>, decltype(after)> queue(after);
    for (std::size_t i = 0; i < heads.size(); ++i) queue.push(i);
    while (!queue.empty()) {
        std::size_t i = queue.top();
        queue.pop();
        each(heads[i].line);
        if (heads[i].reader->next(heads[i].line)) queue.push(i);
    }
}

// ---- ExternalSorter ----

ExternalSorter::ExternalSorter(Less less, std::size_t memory) : less_(std::move(less)), memory_(memory) {}

ExternalSorter::~ExternalSorter() = default;

void ExternalSorter::add(std::string_view record) {
    if (finished_) throw Error("internal: record added to a finished sort");
    buffer_.emplace_back(record);
    // The string's own overhead counts too: many short records are the usual case.
    buffered_bytes_ += record.size() + sizeof(std::string);
    ++count_;
    if (buffered_bytes_ >= memory_) spill();
}

void ExternalSorter::spill() {
    if (buffer_.empty()) return;
    std::stable_sort(buffer_.begin(), buffer_.end(), less_);
    auto run = std::make_unique<TempFile>();
    LineWriter out(run->path());
    for (const auto& r : buffer_) out.add(r);
    out.close();
    runs_.push_back(std::move(run));
    buffer_.clear();
    buffer_.shrink_to_fit();
    buffered_bytes_ = 0;
    if (runs_.size() >= kMaxFanIn * 2) merge_down();
}

// Merges the oldest runs into one, so that the final merge never opens more
// than kMaxFanIn files. Older runs hold earlier records: stability holds.
void ExternalSorter::merge_down() {
    std::vector<fs::path> first;
    for (std::size_t i = 0; i < kMaxFanIn; ++i) first.push_back(runs_[i]->path());
    auto merged = std::make_unique<TempFile>();
    LineWriter out(merged->path());
    merge_sorted(first, less_, [&](std::string_view line) { out.add(line); });
    out.close();
    runs_.erase(runs_.begin(), runs_.begin() + static_cast<std::ptrdiff_t>(kMaxFanIn));
    runs_.insert(runs_.begin(), std::move(merged));
}

void ExternalSorter::finish(const std::function<void(std::string_view)>& each) {
    if (finished_) throw Error("internal: sort finished twice");
    finished_ = true;
    if (runs_.empty()) {
        std::stable_sort(buffer_.begin(), buffer_.end(), less_);
        for (const auto& r : buffer_) each(r);
        buffer_.clear();
        return;
    }
    spill();
    while (runs_.size() > kMaxFanIn) merge_down();
    std::vector<fs::path> files;
    for (const auto& r : runs_) files.push_back(r->path());
    merge_sorted(files, less_, each);
    runs_.clear();
}

void ExternalSorter::finish(const fs::path& out) {
    LineWriter writer(out);
    finish([&](std::string_view line) { writer.add(line); });
    writer.close();
}

}  // namespace exmsync::manifest
