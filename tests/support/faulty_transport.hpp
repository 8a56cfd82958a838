// FaultyTransport: a Transport decorator that fails the N-th operation that
// changes the target, for the crash tests of the apply protocol.
//
// Counted (each call is one operation): create, Writer::write,
// Writer::commit, rename, remove, mkdir, set_mtime, flush_dir, flush_all.
// Reads (stat, list, open_read, Reader::read) are passed through uncounted.
// The fault strikes BEFORE the operation, so operation N never happens and
// operations 1..N-1 all did. Typical use:
//
//   FaultyTransport probe(inner);            // N = 0: never fails
//   apply(probe, ...);                        // learn the total
//   for (n = 1..probe.operations()) {
//       reset the target;
//       FaultyTransport faulty(inner, n, FaultMode::Exit);  // in a child
//       ... then recover and check "all or nothing".
//   }
//
// The FaultyTransport must outlive the Writers it hands out.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>

#include "transport/transport.hpp"

namespace exmsync::testing {

enum class FaultMode {
    Throw,  // throw transport::Error("injected fault at operation N")
    Exit,   // std::_Exit(77): no destructors, no flushing; like a kill or power cut
};

class FaultyTransport : public transport::Transport {
public:
    static constexpr int kExitCode = 77;

    // `fail_at` = 0: never fail, only count.
    explicit FaultyTransport(transport::Transport& inner, std::uint64_t fail_at = 0,
                             FaultMode mode = FaultMode::Throw)
        : inner_(inner), fail_at_(fail_at), mode_(mode) {}

    // Operations that change the target counted so far (the faulted one included).
    std::uint64_t operations() const { return operations_; }

    std::string describe() const override { return inner_.describe(); }
    std::optional<transport::Stat> stat(const std::string& path) override { return inner_.stat(path); }
    std::vector<transport::DirEntry> list(const std::string& dir) override { return inner_.list(dir); }
    std::unique_ptr<transport::Reader> open_read(const std::string& path) override {
        return inner_.open_read(path);
    }

    std::unique_ptr<transport::Writer> create(const std::string& path) override {
        step();
        return std::make_unique<FaultyWriter>(*this, inner_.create(path));
    }
    void rename(const std::string& from, const std::string& to) override {
        step();
        inner_.rename(from, to);
    }
    void remove(const std::string& path) override {
        step();
        inner_.remove(path);
    }
    void mkdir(const std::string& path) override {
        step();
        inner_.mkdir(path);
    }
    void set_mtime(const std::string& path, std::int64_t mtime_ns) override {
        step();
        inner_.set_mtime(path, mtime_ns);
    }
    void flush_dir(const std::string& dir) override {
        step();
        inner_.flush_dir(dir);
    }
    void flush_all() override {
        step();
        inner_.flush_all();
    }
    // Passed through so that code choosing a fast local path behaves as in
    // production; such a path bypasses the fault injection, which a test of
    // the apply protocol should notice as a too-small operations() count.
    std::optional<boost::filesystem::path> local_path() const override { return inner_.local_path(); }

private:
    class FaultyWriter : public transport::Writer {
    public:
        FaultyWriter(FaultyTransport& owner, std::unique_ptr<transport::Writer> inner)
            : owner_(owner), inner_(std::move(inner)) {}
        void write(const char* data, std::size_t size) override {
            owner_.step();
            inner_->write(data, size);
        }
        void commit() override {
            owner_.step();
            inner_->commit();
        }
        // Part of the commit that follows: not an operation of its own.
        void set_mtime_on_commit(std::int64_t mtime_ns) override { inner_->set_mtime_on_commit(mtime_ns); }

    private:
        FaultyTransport& owner_;
        std::unique_ptr<transport::Writer> inner_;
    };

    // Counts one operation and fails it when it is the chosen one.
    void step() {
        ++operations_;
        if (operations_ != fail_at_) return;
        if (mode_ == FaultMode::Exit) std::_Exit(kExitCode);
        throw transport::Error("injected fault at operation " + std::to_string(operations_));
    }

    transport::Transport& inner_;
    std::uint64_t fail_at_;
    FaultMode mode_;
    std::uint64_t operations_ = 0;
};

}  // namespace exmsync::testing
