#include "sync/state.hpp"

#include <fstream>
#include <vector>

#include "manifest/escape.hpp"
#include "sync/error.hpp"
#include "platform/files.hpp"

namespace exmsync::sync {
namespace {
constexpr std::size_t kBuffer = 64 * 1024;
constexpr std::size_t kMaxSmallFile = 64u << 20;
}  // namespace

bool StateFolder::exists(const std::string& path) { return t_.stat(path).has_value(); }

std::string StateFolder::read_small(const std::string& path) {
    auto reader = t_.open_read(path);
    std::string out;
    std::vector<char> buffer(kBuffer);
    while (std::size_t n = reader->read(buffer.data(), buffer.size())) {
        out.append(buffer.data(), n);
        if (out.size() > kMaxSmallFile)
            throw Error(where() + ": " + path + " is too large for a state file; move it aside");
    }
    return out;
}

void StateFolder::write_new(const std::string& path, const std::string& content) {
    auto writer = t_.create(path);
    writer->write(content.data(), content.size());
    writer->commit(transport::Flush::Now);
}

void StateFolder::replace(const std::string& path, const std::string& content) {
    std::string fresh = path + ".new";
    if (exists(fresh)) t_.remove(fresh);
    write_new(fresh, content);
    if (exists(path)) t_.remove(path);
    t_.rename(fresh, path);
    t_.flush_dir(std::string(manifest::parent_of(path)));
}

std::optional<std::string> StateFolder::read_small_or_new(const std::string& path) {
    if (exists(path)) return read_small(path);
    if (exists(path + ".new")) return read_small(path + ".new");
    return std::nullopt;
}

void StateFolder::copy_in(const boost::filesystem::path& local, const std::string& path, transport::Flush flush) {
    std::ifstream in(platform::stream_path(local.string()), std::ios::binary);
    if (!in) throw Error("cannot read " + local.string());
    auto writer = t_.create(path);
    std::vector<char> buffer(kBuffer);
    while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        if (in.gcount() > 0) writer->write(buffer.data(), static_cast<std::size_t>(in.gcount()));
    }
    if (in.bad()) throw Error("cannot read " + local.string());
    writer->commit(flush);
}

void StateFolder::copy_out(const std::string& path, const boost::filesystem::path& local) {
    auto reader = t_.open_read(path);
    std::ofstream out(platform::stream_path(local.string()), std::ios::binary | std::ios::trunc);
    std::vector<char> buffer(kBuffer);
    while (std::size_t n = reader->read(buffer.data(), buffer.size()))
        out.write(buffer.data(), static_cast<std::streamsize>(n));
    out.close();
    if (!out) throw Error("cannot write " + local.string() + ": disk full or I/O error");
}

void StateFolder::remove_tree(const std::string& path) {
    if (auto st = t_.stat(path)) remove_tree(path, st->kind);
}

void StateFolder::remove_tree(const std::string& path, transport::Kind kind) {
    // The listing says what each child is: no stat per file.
    if (kind == transport::Kind::Directory)
        for (const auto& child : t_.list(path)) remove_tree(path + "/" + child.name, child.stat.kind);
    t_.remove(path);
}

void StateFolder::make_folders(const std::string& path) {
    for (std::size_t start = 0;;) {
        auto slash = path.find('/', start);
        std::string prefix = path.substr(0, slash);
        auto st = t_.stat(prefix);
        if (!st) t_.mkdir(prefix);
        else if (st->kind != transport::Kind::Directory)
            throw Error(where() + ": '" + manifest::escape_path(prefix) +
                        "' is in the way of the state folder and is not a folder; move it aside");
        if (slash == std::string::npos) return;
        start = slash + 1;
    }
}

void StateFolder::move_if_present(const std::string& from, const std::string& to) {
    if (exists(from) && !exists(to)) t_.rename(from, to);
}

}  // namespace exmsync::sync
