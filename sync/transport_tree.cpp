#include "sync/transport_tree.hpp"

#include <mutex>
#include <vector>

#include "manifest/error.hpp"

namespace exmsync::sync {
namespace {

using manifest::FileKind;
using manifest::FileStat;

constexpr std::size_t kReadBuffer = 64 * 1024;

FileStat file_stat(const transport::Stat& st) {
    FileStat out;
    switch (st.kind) {
        case transport::Kind::File: out.kind = FileKind::File; break;
        case transport::Kind::Directory: out.kind = FileKind::Directory; break;
        case transport::Kind::Symlink: out.kind = FileKind::Symlink; break;
        case transport::Kind::Other: out.kind = FileKind::Other; break;
    }
    out.device = st.device;
    out.inode = st.inode;
    out.size = st.size;
    out.mtime_ns = st.mtime_ns;
    out.ctime_ns = st.ctime_ns;
    return out;
}

// Scan failures are manifest::Errors, as the local scanner's are.
template <typename Call>
auto translated(Call&& call) -> decltype(call()) {
    try {
        return call();
    } catch (const transport::Error& e) {
        throw manifest::Error(e.what());
    }
}

class TransportTree final : public manifest::Tree {
public:
    explicit TransportTree(transport::Transport& t) : t_(t) {}

    std::string describe() const override { return t_.describe(); }
    unsigned parallelism() const override { return 1; }

    std::optional<FileStat> stat(const std::string& path) override {
        std::lock_guard lock(mutex_);
        return translated([&]() -> std::optional<FileStat> {
            auto st = t_.stat(path);
            if (!st) return std::nullopt;
            return file_stat(*st);
        });
    }

    std::vector<manifest::DirChild> list(const std::string& dir) override {
        std::lock_guard lock(mutex_);
        return translated([&] {
            std::vector<manifest::DirChild> out;
            for (auto& child : t_.list(dir)) out.push_back({std::move(child.name), file_stat(child.stat)});
            return out;
        });
    }

    void list_ahead(const std::vector<std::string>& dirs) override {
        std::lock_guard lock(mutex_);
        translated([&] {
            t_.list_ahead(dirs);
            return 0;
        });
    }

    std::optional<manifest::HashedFile> hash(const std::string& path, const FileStat& before) override {
        std::lock_guard lock(mutex_);
        return translated([&]() -> std::optional<manifest::HashedFile> {
            std::unique_ptr<transport::Reader> reader;
            try {
                reader = t_.open_read(path);
            } catch (const transport::NotFound&) {
                return std::nullopt;  // gone since the listing: the scanner looks again
            }
            manifest::StreamHasher hasher;
            manifest::HashedFile out;
            while (out.bytes_read < before.size) {
                std::size_t want = std::min<std::uint64_t>(buffer_.size(), before.size - out.bytes_read);
                std::size_t n = reader->read(buffer_.data(), want);
                if (n == 0) return std::nullopt;  // shrank while read
                hasher.update(buffer_.data(), n);
                out.bytes_read += n;
            }
            auto after = t_.stat(path);
            if (!after || !(file_stat(*after) == before)) return std::nullopt;
            out.hash = hasher.digest();
            return out;
        });
    }

    std::string read_symlink(const std::string& path) override {
        std::lock_guard lock(mutex_);
        return translated([&] { return t_.read_link(path); });
    }

private:
    transport::Transport& t_;
    std::mutex mutex_;
    std::vector<char> buffer_ = std::vector<char>(kReadBuffer);
};

}  // namespace

std::unique_ptr<manifest::Tree> transport_tree(transport::Transport& transport) {
    return std::make_unique<TransportTree>(transport);
}

}  // namespace exmsync::sync
