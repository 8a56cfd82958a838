// FaultyTransport: a Transport decorator that fails the N-th operation that
// changes the target, for the crash and failure tests of the apply protocol.
//
// Counted (each call is one operation): create, Writer::write,
// Writer::commit, rename, remove, mkdir, set_mtime, flush_dir, flush_all.
// Reads (stat, list, open_read, Reader::read, the pre-flight probes) pass
// through uncounted. The fault strikes BEFORE the operation, so operation N
// never happens and operations 1..N-1 all did.
//
// Modes:
//   Throw     throw transport::Error("injected fault at operation N"): a
//             refusal the protocol must undo on the spot;
//   Exit      std::_Exit(77): a killed process, the page cache intact;
//   PowerCut  like leveldb's fault-injection Env: first everything that was
//             not flushed is lost (files created or written since their last
//             flush, renames, removals and folders not yet made durable by a
//             flush of their folder or of the volume), then std::_Exit(77).
//
// Durability model for PowerCut: Writer::commit(Flush::Now) makes a file's
// bytes durable; flush_dir(D) makes the entries created, removed or renamed
// in folder D durable; flush_all() makes everything durable. At the cut,
// what is not durable is undone in reverse order, each step only if the
// target still shows it (a later durable rename of the same file wins).
//
// The FaultyTransport must outlive the Writers it hands out.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "transport/transport.hpp"

namespace exmsync::testing {

enum class FaultMode { Throw, Exit, PowerCut };

class FaultyTransport : public transport::Transport {
public:
    static constexpr int kExitCode = 77;

    // `fail_at` = 0: never fail, only count. `exit_at`: a second fault that
    // ends the process there (a crash while the first refusal is undone).
    explicit FaultyTransport(transport::Transport& inner, std::uint64_t fail_at = 0,
                             FaultMode mode = FaultMode::Throw, std::uint64_t exit_at = 0)
        : inner_(inner), fail_at_(fail_at), mode_(mode), exit_at_(exit_at) {}

    // Operations that change the target counted so far (the faulted one included).
    std::uint64_t operations() const { return operations_; }

    std::string describe() const override { return inner_.describe(); }
    std::optional<transport::Stat> stat(const std::string& path) override { return inner_.stat(path); }
    std::vector<transport::DirEntry> list(const std::string& dir) override { return inner_.list(dir); }
    void list_ahead(const std::vector<std::string>& dirs) override { inner_.list_ahead(dirs); }
    std::unique_ptr<transport::Reader> open_read(const std::string& path) override {
        return inner_.open_read(path);
    }
    std::string read_link(const std::string& path) override { return inner_.read_link(path); }
    transport::Capabilities capabilities() const override { return inner_.capabilities(); }
    std::string removal_problem(const std::string& path) override { return inner_.removal_problem(path); }
    std::string creation_problem(const std::string& dir) override { return inner_.creation_problem(dir); }
    std::optional<transport::Space> space() override { return inner_.space(); }

    std::unique_ptr<transport::Writer> create(const std::string& path) override {
        step();
        auto writer = inner_.create(path);
        pending(Pending::Created, path, {}, {parent(path)});
        return std::make_unique<FaultyWriter>(*this, std::move(writer), path);
    }
    void rename(const std::string& from, const std::string& to) override {
        step();
        inner_.rename(from, to);
        pending(Pending::Renamed, to, from, {parent(from), parent(to)});
    }
    void remove(const std::string& path) override {
        step();
        // Kept, so that a power cut can bring back a removal that never reached the disk.
        auto st = inner_.stat(path);
        std::string content;
        if (mode_ == FaultMode::PowerCut && st && st->kind == transport::Kind::File) content = read_all(path);
        inner_.remove(path);
        if (mode_ != FaultMode::PowerCut) return;
        Pending p;
        p.kind = Pending::Removed;
        p.path = path;
        p.unflushed_dirs = {parent(path)};
        p.was_folder = st && st->kind == transport::Kind::Directory;
        p.content = std::move(content);
        log_.push_back(std::move(p));
    }
    void mkdir(const std::string& path) override {
        step();
        inner_.mkdir(path);
        pending(Pending::Made, path, {}, {parent(path)});
    }
    void set_mtime(const std::string& path, std::int64_t mtime_ns) override {
        step();
        inner_.set_mtime(path, mtime_ns);
    }
    void flush_dir(const std::string& dir) override {
        step();
        inner_.flush_dir(dir);
        for (auto& p : log_) p.unflushed_dirs.erase(dir);
    }
    void flush_all() override {
        step();
        inner_.flush_all();
        log_.clear();
    }
    // Passed through so that code choosing a fast local path behaves as in
    // production; such a path bypasses the fault injection, which a test of
    // the apply protocol should notice as a too-small operations() count.
    std::optional<boost::filesystem::path> local_path() const override { return inner_.local_path(); }

private:
    // A change not yet durable.
    struct Pending {
        enum Kind { Created, Renamed, Removed, Made } kind = Created;
        std::string path;
        std::string from;                      // Renamed
        std::set<std::string> unflushed_dirs;  // durable once all of these are flushed
        bool data_durable = false;             // Created: its bytes
        bool was_folder = false;               // Removed
        std::string content;                   // Removed file
    };

    class FaultyWriter : public transport::Writer {
    public:
        FaultyWriter(FaultyTransport& owner, std::unique_ptr<transport::Writer> inner, std::string path)
            : owner_(owner), inner_(std::move(inner)), path_(std::move(path)) {}
        void write(const char* data, std::size_t size) override {
            owner_.step();
            inner_->write(data, size);
        }
        void commit(transport::Flush flush) override {
            owner_.step();
            inner_->commit(flush);
            if (flush == transport::Flush::Now)
                for (auto& p : owner_.log_)
                    if (p.kind == Pending::Created && p.path == path_) p.data_durable = true;
        }
        // Part of the commit that follows: not an operation of its own.
        void set_mtime_on_commit(std::int64_t mtime_ns) override { inner_->set_mtime_on_commit(mtime_ns); }

    private:
        FaultyTransport& owner_;
        std::unique_ptr<transport::Writer> inner_;
        std::string path_;
    };

    static std::string parent(const std::string& path) {
        auto slash = path.rfind('/');
        return slash == std::string::npos ? std::string() : path.substr(0, slash);
    }

    void pending(Pending::Kind kind, const std::string& path, const std::string& from, std::set<std::string> dirs) {
        if (mode_ != FaultMode::PowerCut) return;
        Pending p;
        p.kind = kind;
        p.path = path;
        p.from = from;
        p.unflushed_dirs = std::move(dirs);
        log_.push_back(std::move(p));
    }

    std::string read_all(const std::string& path) {
        auto reader = inner_.open_read(path);
        std::string out;
        char buffer[65536];
        while (std::size_t n = reader->read(buffer, sizeof buffer)) out.append(buffer, n);
        return out;
    }

    void write_all(const std::string& path, const std::string& content) {
        auto writer = inner_.create(path);
        writer->write(content.data(), content.size());
        writer->commit(transport::Flush::Now);
    }

    // Undoes, newest first, whatever a power cut would have lost.
    void lose_unflushed() {
        for (auto it = log_.rbegin(); it != log_.rend(); ++it) {
            Pending& p = *it;
            bool entry_durable = p.unflushed_dirs.empty();
            try {
                switch (p.kind) {
                    case Pending::Created:
                        if (!inner_.stat(p.path)) break;
                        if (!entry_durable) inner_.remove(p.path);
                        else if (!p.data_durable) {  // the name survived, the bytes did not
                            inner_.remove(p.path);
                            write_all(p.path, "");
                        }
                        break;
                    case Pending::Renamed:
                        if (!entry_durable && inner_.stat(p.path) && !inner_.stat(p.from)) inner_.rename(p.path, p.from);
                        break;
                    case Pending::Removed:
                        if (entry_durable || inner_.stat(p.path) || !inner_.stat(parent(p.path))) break;
                        if (p.was_folder) inner_.mkdir(p.path);
                        else write_all(p.path, p.content);
                        break;
                    case Pending::Made:
                        if (!entry_durable && inner_.stat(p.path) && inner_.list(p.path).empty()) inner_.remove(p.path);
                        break;
                }
            } catch (const transport::Error&) {
                // What cannot be undone stays, as on a disk that wrote it after all.
            }
        }
    }

    // Counts one operation and fails it when it is the chosen one.
    void step() {
        ++operations_;
        if (operations_ == exit_at_) std::_Exit(kExitCode);
        if (operations_ != fail_at_) return;
        if (mode_ == FaultMode::PowerCut) lose_unflushed();
        if (mode_ != FaultMode::Throw) std::_Exit(kExitCode);
        throw transport::Error("injected fault at operation " + std::to_string(operations_));
    }

    transport::Transport& inner_;
    std::uint64_t fail_at_;
    FaultMode mode_;
    std::uint64_t exit_at_;
    std::uint64_t operations_ = 0;
    std::vector<Pending> log_;
};

// `count` operations spread over 1..total, always with the first and the
// last few: where the crash tests over a network strike, each costing a
// connection.
inline std::set<std::uint64_t> sample_operations(std::uint64_t total, std::uint64_t count) {
    std::set<std::uint64_t> points{1, 2, total - 2, total - 1, total};
    for (std::uint64_t i = 1; i <= count; ++i) points.insert(std::max<std::uint64_t>(1, total * i / (count + 1)));
    return points;
}

}  // namespace exmsync::testing
