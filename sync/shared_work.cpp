#include "sync/shared_work.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <fstream>
#include <future>
#include <thread>
#include <vector>

#include "manifest/file_system.hpp"
#include "platform/files.hpp"
#include "sync/archive.hpp"
#include "sync/error.hpp"
#include "sync/feeds.hpp"
#include "sync/log.hpp"

namespace exmsync::sync {

namespace fs = boost::filesystem;

namespace {
constexpr std::size_t kCopyBuffer = 256 * 1024;

[[noreturn]] void cannot(const char* what, const fs::path& file) {
    throw Error(std::string("cannot ") + what + " " + file.string() +
                ", the archive packed for this push: disk full or I/O error (see TMPDIR)");
}
}  // namespace

class SharedArchive {
public:
    SharedArchive(const fs::path& source_root, std::shared_ptr<Plan> plan) : plan_(std::move(plan)) {
        out_.open(platform::stream_path(file_.path().string()), std::ios::binary | std::ios::trunc);
        if (!out_) cannot("write", file_.path());
        packer_ = std::thread([this, source_root] { pack(source_root); });
    }

    // Runs once every target is done with the archive (the push is over):
    // the packing of an archive no target still takes stops at its next write.
    ~SharedArchive() {
        cancelled_ = true;
        packer_.join();
    }

    void copy_to(const std::function<void(const char*, std::size_t)>& sink) {
        std::ifstream in(platform::stream_path(file_.path().string()), std::ios::binary);
        if (!in) cannot("read", file_.path());
        std::vector<char> buffer(kCopyBuffer);
        std::uint64_t at = 0;
        while (true) {
            std::uint64_t available = 0;
            {
                std::unique_lock lock(mutex_);
                grown_.wait(lock, [&] { return written_ > at || done_ || error_; });
                if (error_) std::rethrow_exception(error_);
                if (written_ == at) return;  // done, and all of it copied
                available = written_ - at;
            }
            // Only bytes already flushed are read: the stream never meets its end.
            auto n = static_cast<std::size_t>(std::min<std::uint64_t>(available, buffer.size()));
            if (!in.read(buffer.data(), static_cast<std::streamsize>(n))) cannot("read", file_.path());
            sink(buffer.data(), n);
            at += n;
        }
    }

private:
    void pack(const fs::path& source_root) {
        auto start = std::chrono::steady_clock::now();
        try {
            auto source = transport::open_transport(source_root.string());
            Changeset changeset{plan_->header, plan_->ops.path()};
            TreeFeed feed(*source, changeset, plan_->new_manifest.path());
            write_archive("the archive packed for the targets of this push", [&](const char* data, std::size_t size) {
                if (cancelled_) throw Error("no target takes the archive any more");
                out_.write(data, static_cast<std::streamsize>(size));
                out_.flush();
                if (!out_) cannot("write", file_.path());
                std::lock_guard lock(mutex_);
                written_ += size;
                grown_.notify_all();
            }, changeset, feed);
            std::lock_guard lock(mutex_);
            done_ = true;
            log::debug("packed {} bytes for the targets at root {} in {:.2f} s", written_, plan_->header.base_root.hex(),
                       std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        } catch (...) {
            std::lock_guard lock(mutex_);
            error_ = std::current_exception();
        }
        grown_.notify_all();
    }

    std::shared_ptr<Plan> plan_;
    manifest::TempFile file_;
    std::ofstream out_;
    std::mutex mutex_;
    std::condition_variable grown_;
    std::uint64_t written_ = 0;
    bool done_ = false;
    std::exception_ptr error_;
    std::atomic<bool> cancelled_{false};
    std::thread packer_;  // last: started once everything above exists
};

struct SharedWork::Entry {
    std::shared_future<std::shared_ptr<Plan>> plan;
    std::shared_ptr<SharedArchive> archive;
};

SharedWork::SharedWork(fs::path source_root) : source_root_(std::move(source_root)) {}

SharedWork::~SharedWork() = default;

std::string SharedWork::key(const manifest::Hash128& root, const fs::path& hidden) {
    manifest::StreamHasher hasher;
    std::ifstream in(platform::stream_path(hidden.string()), std::ios::binary);
    std::vector<char> buffer(64 * 1024);
    while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        hasher.update(buffer.data(), static_cast<std::size_t>(in.gcount()));
    }
    if (in.bad()) throw Error("cannot read " + hidden.string());
    return root.hex() + " " + hasher.digest().hex();
}

std::shared_ptr<Plan> SharedWork::plan(const std::string& key, const std::function<std::unique_ptr<Plan>()>& make) {
    std::promise<std::shared_ptr<Plan>> made;
    std::shared_future<std::shared_ptr<Plan>> theirs;
    {
        std::lock_guard lock(mutex_);
        auto& entry = entries_[key];
        if (entry) {
            theirs = entry->plan;
        } else {
            entry = std::make_shared<Entry>();
            entry->plan = made.get_future().share();
        }
    }
    if (theirs.valid()) return theirs.get();
    try {
        std::shared_ptr<Plan> plan = make();
        made.set_value(plan);
        return plan;
    } catch (...) {
        made.set_exception(std::current_exception());
        throw;
    }
}

PackedChangeset SharedWork::packed(const std::string& key, const std::shared_ptr<Plan>& plan) {
    std::shared_ptr<SharedArchive> archive;
    {
        std::lock_guard lock(mutex_);
        auto& entry = entries_.at(key);
        if (!entry->archive) {
            entry->archive = std::make_shared<SharedArchive>(source_root_, plan);
            ++archives_;
        }
        archive = entry->archive;
    }
    PackedChangeset packed;
    packed.header = plan->header;
    packed.after = plan->new_manifest.path();
    packed.write = [archive](const std::function<void(const char*, std::size_t)>& sink) { archive->copy_to(sink); };
    return packed;
}

}  // namespace exmsync::sync
