#include "transport/smb_lister.hpp"

#include <algorithm>
#include <chrono>

#include "platform/process.hpp"

namespace exmsync::transport {
namespace {

// Frames on the pipes: a 4-byte little-endian length, then the payload.
// Parent to worker: the logon (url, user, domain, password, encryption
// flag), then requests, each starting with its kind and id:
//   L id path                  list a folder
//   W id path                  create a file
//   D id bytes...              append to it
//   C id has-mtime mtime       close it (with that mtime)
//   X id                       close it as it is, uncommitted
// Worker to parent: the logon's outcome (a status byte, then kGreeting or
// why not), then one frame per L (id, status, and when listed the entries)
// and one per C or X (id, status, and when failed the error).
constexpr std::uint32_t kMaxFrame = 64u << 20;
constexpr std::uint8_t kListed = 0, kFailed = 1;
constexpr char kList = 'L', kCreate = 'W', kData = 'D', kCommit = 'C', kDrop = 'X';
// Sent by a worker that logged on: a program that is not this exmsync (or
// not of this version of the protocol) is never taken for one.
constexpr const char* kGreeting = "exmsync smb-lister 2";
// How often a reader thread looks up from a quiet worker to see whether the
// lister is closing.
constexpr int kPollMs = 250;

void put32(std::string& out, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
void put64(std::string& out, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
void put_text(std::string& out, const std::string& text) {
    put32(out, static_cast<std::uint32_t>(text.size()));
    out += text;
}
std::string framed(const std::string& payload) {
    std::string out;
    put32(out, static_cast<std::uint32_t>(payload.size()));
    return out + payload;
}

// Reads fields of one payload; false once a field runs past its end.
class Fields {
public:
    explicit Fields(const std::string& data) : data_(data) {}
    bool u8(std::uint8_t& v) {
        if (at_ >= data_.size()) return false;
        v = static_cast<std::uint8_t>(data_[at_++]);
        return true;
    }
    bool u32(std::uint32_t& v) {
        std::uint64_t wide;
        if (!bytes(4, wide)) return false;
        v = static_cast<std::uint32_t>(wide);
        return true;
    }
    bool u64(std::uint64_t& v) { return bytes(8, v); }
    bool text(std::string& v) {
        std::uint32_t n;
        if (!u32(n) || data_.size() - at_ < n) return false;
        v.assign(data_, at_, n);
        at_ += n;
        return true;
    }
    bool at_end() const { return at_ == data_.size(); }
    // Whatever is left, as it is.
    std::string_view rest() const { return std::string_view(data_).substr(at_); }

private:
    bool bytes(int n, std::uint64_t& v) {
        if (data_.size() - at_ < static_cast<std::size_t>(n)) return false;
        v = 0;
        for (int i = 0; i < n; ++i) v |= std::uint64_t{static_cast<unsigned char>(data_[at_ + i])} << (8 * i);
        at_ += static_cast<std::size_t>(n);
        return true;
    }
    const std::string& data_;
    std::size_t at_ = 0;
};

// Takes the frames out of `in` as they complete.
std::optional<std::string> next_frame(std::string& in) {
    Fields header(in);
    std::uint32_t length;
    if (!header.u32(length)) return std::nullopt;
    if (length > kMaxFrame) throw platform::PipeError("a frame of " + std::to_string(length) + " bytes");
    if (in.size() - 4 < length) return std::nullopt;
    std::string frame = in.substr(4, length);
    in.erase(0, 4 + std::size_t{length});
    return frame;
}

std::optional<std::string> read_stdin_frame(std::string& in) {
    while (true) {
        if (auto frame = next_frame(in)) return frame;
        char buffer[64 * 1024];
        auto n = platform::read_stdin(buffer, sizeof buffer, -1);
        if (!n || *n == 0) return std::nullopt;
        in.append(buffer, *n);
    }
}

void write_stdout_frame(const std::string& payload) {
    const std::string out = framed(payload);
    platform::write_stdout(out.data(), out.size());
}

}  // namespace

struct SmbLister::Worker {
    std::unique_ptr<platform::Child> child;
    std::thread reader;
    std::size_t outstanding = 0;   // requests written and not yet answered
    std::size_t queued_bytes = 0;  // their size on the pipe
    bool alive = false;
};

SmbLister::SmbLister(const std::string& program, const SmbListerLogon& logon, std::size_t workers) {
    std::string hello;
    put_text(hello, logon.url);
    put_text(hello, logon.user);
    put_text(hello, logon.domain);
    put_text(hello, logon.password);
    hello.push_back(logon.require_encryption ? 1 : 0);
    const std::string first = framed(hello);
#if defined(_WIN32)
    const std::string null_device = "NUL";
#else
    const std::string null_device = "/dev/null";
#endif
    for (std::size_t i = 0; i < workers; ++i) {
        auto worker = std::make_unique<Worker>();
        try {
            worker->child = std::make_unique<platform::Child>(std::vector<std::string>{program, "smb-lister"},
                                                              null_device);
            worker->child->write(first.data(), first.size());
            worker->alive = true;
        } catch (const platform::PipeError&) {
            worker->child.reset();
        }
        workers_.push_back(std::move(worker));
    }
    // Each worker's replies are read by a thread of its own, so a worker
    // never waits on a full pipe while the walk waits on another.
    for (std::size_t i = 0; i < workers_.size(); ++i) {
        Worker& w = *workers_[i];
        if (!w.alive) continue;
        try {
            start_reader(i);
        } catch (const std::system_error&) {
            w.alive = false;  // no thread to read it: its folders are listed by the caller
            w.child->kill();
        }
    }
}

void SmbLister::start_reader(std::size_t i) {
    Worker& w = *workers_[i];
    w.reader = std::thread([this, i, child = w.child.get()] {
        std::string in;
        bool logged_on = false;
        try {
            while (true) {
                while (auto frame = next_frame(in)) {
                    if (!logged_on) {
                        // The logon's outcome: a status byte, then the
                        // greeting or why not.
                        if (*frame != std::string(1, static_cast<char>(kListed)) + kGreeting)
                            throw platform::PipeError("no logon");
                        logged_on = true;
                        continue;
                    }
                    std::lock_guard guard(mutex_);
                    replies_.push_back({i, std::move(*frame)});
                    arrived_.notify_one();
                }
                char buffer[64 * 1024];
                auto n = child->read(buffer, sizeof buffer, kPollMs);
                if (!n) {
                    if (stopping_) break;
                    continue;
                }
                if (*n == 0) break;
                in.append(buffer, *n);
            }
        } catch (const platform::PipeError&) {
        }
        std::lock_guard guard(mutex_);
        replies_.push_back({i, std::nullopt});
        arrived_.notify_one();
    });
}

SmbLister::~SmbLister() {
    // Workers only read, so nothing is lost by ending them at once; waiting
    // for each to answer what it was still asked could take a stuck server's
    // timeout per folder.
    stopping_ = true;
    for (auto& w : workers_)
        if (w->child) w->child->kill();
    for (auto& w : workers_)
        if (w->reader.joinable()) w->reader.join();
}

bool SmbLister::any_alive() const {
    return std::any_of(workers_.begin(), workers_.end(), [](const auto& w) { return w->alive; });
}

void SmbLister::want(const std::vector<std::string>& folders) {
    if (!any_alive()) return;
    for (const auto& folder : folders)
        if (!folders_.count(folder) && hinted_.size() < kHinted) hinted_.insert(folder);
    fill();
}

bool SmbLister::has(const std::string& folder) const {
    return any_alive() ? folders_.count(folder) || hinted_.count(folder) : folders_.count(folder) != 0;
}

std::optional<std::vector<DirEntry>> SmbLister::take(const std::string& folder) {
    auto it = folders_.find(folder);
    if (it == folders_.end()) {
        hinted_.erase(folder);
        if (!start(folder)) return std::nullopt;
        it = folders_.find(folder);
    }
    // A walk never comes back: what lies before this folder in walk order
    // (guesses inside a folder the walk left out) will not be asked for.
    hinted_.erase(hinted_.begin(), hinted_.lower_bound(folder));
    for (auto before = folders_.begin(); before != it;) before = drop(before);
    fill();
    // A worker that does not answer for this folder in time is taken for
    // stuck, whatever the others do meanwhile.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kReplyTimeoutMs);
    while (!it->second->done)
        if (!receive(deadline)) worker_gone(it->second->worker);
    auto out = std::move(it->second->entries);
    folders_.erase(it);
    fill();
    return out;
}

SmbLister::Folders::iterator SmbLister::drop(Folders::iterator it) {
    if (!it->second->done)
        for (auto& [id, request] : requests_)
            if (request.folder == it->second.get()) request.folder = nullptr;  // its reply still comes, and is let go
    return folders_.erase(it);
}

void SmbLister::forget() {
    hinted_.clear();
    for (auto it = folders_.begin(); it != folders_.end();) it = drop(it);
}

// Asks the worker with the fewest unanswered requests. False when none can
// take it now: every worker is gone, or has kQueuedBytes of requests unread
// (never more, so that writing one never waits on a worker that is stuck).
bool SmbLister::start(const std::string& folder) {
    const std::uint32_t id = next_id_++;
    std::string request(1, kList);
    put32(request, id);
    put_text(request, folder);
    const std::string out = framed(request);
    Worker* best = nullptr;
    std::size_t index = 0;
    for (std::size_t i = 0; i < workers_.size(); ++i) {
        Worker& w = *workers_[i];
        if (w.alive && w.queued_bytes + out.size() <= kQueuedBytes && (!best || w.outstanding < best->outstanding)) {
            best = &w;
            index = i;
        }
    }
    if (!best) return false;
    try {
        best->child->write(out.data(), out.size());
    } catch (const platform::PipeError&) {
        worker_gone(index);
        return start(folder);
    }
    ++best->outstanding;
    best->queued_bytes += out.size();
    auto owned = std::make_unique<Folder>();
    owned->path = folder;
    owned->worker = index;
    requests_[id] = {owned.get(), index, out.size()};
    folders_[folder] = std::move(owned);
    return true;
}

// Starts hinted folders, first in walk order, while there is room: at most
// kInFlight folders asked for or listed and not yet taken, dropped ones
// whose replies are still to come included.
void SmbLister::fill() {
    std::size_t dropped = 0;
    for (const auto& [id, request] : requests_) dropped += request.folder == nullptr;
    while (!hinted_.empty() && folders_.size() + dropped < kInFlight && any_alive()) {
        std::string folder = *hinted_.begin();
        if (!start(folder)) return;
        hinted_.erase(folder);
    }
}

bool SmbLister::receive(std::chrono::steady_clock::time_point deadline) {
    std::deque<Reply> replies;
    {
        std::unique_lock lock(mutex_);
        if (!arrived_.wait_until(lock, deadline, [&] { return !replies_.empty(); })) return false;
        replies.swap(replies_);
    }
    for (auto& reply : replies) {
        if (!reply.frame) {
            worker_gone(reply.worker);
            continue;
        }
        Fields fields(*reply.frame);
        std::uint32_t id;
        std::uint8_t status;
        const bool framed_well = fields.u32(id) && fields.u8(status);
        if (auto upload = framed_well ? uploads_.find(id) : uploads_.end();
            upload != uploads_.end() && upload->second.ended && upload->second.worker == reply.worker) {
            --workers_[reply.worker]->outstanding;
            std::string error;
            if (status != kListed && (!fields.text(error) || error.empty())) error = "failed (no reason given)";
            if (status != kListed && upload->second.commit) upload_failures_[id] = {upload->second.path, error};
            uploads_.erase(upload);
            continue;
        }
        auto request = framed_well ? requests_.find(id) : requests_.end();
        if (request == requests_.end()) {
            worker_gone(reply.worker);  // it speaks nonsense: none of its listings is trusted
            continue;
        }
        Folder* folder = request->second.folder;
        Worker& answered = *workers_[request->second.worker];
        --answered.outstanding;
        answered.queued_bytes -= request->second.bytes;
        requests_.erase(request);
        if (!folder) continue;
        folder->done = true;
        std::uint32_t count;
        if (status != kListed || !fields.u32(count)) continue;
        std::vector<DirEntry> entries;
        bool whole = true;
        for (std::uint32_t i = 0; i < count && whole; ++i) {
            DirEntry e;
            std::uint8_t kind = 0;
            std::uint64_t mtime = 0;
            whole = fields.text(e.name) && fields.u8(kind) && kind <= static_cast<std::uint8_t>(Kind::Other) &&
                    fields.u64(e.stat.size) && fields.u64(mtime);
            e.stat.kind = static_cast<Kind>(kind);
            e.stat.mtime_ns = static_cast<std::int64_t>(mtime);
            entries.push_back(std::move(e));
        }
        if (!whole || !fields.at_end()) continue;
        // Its subfolders are likely next (see SftpLister::finish).
        for (const auto& e : entries) {
            if (e.stat.kind != Kind::Directory || hinted_.size() >= kHinted) continue;
            std::string child = folder->path.empty() ? e.name : folder->path + "/" + e.name;
            if (!folders_.count(child)) hinted_.insert(std::move(child));
        }
        folder->entries = std::move(entries);
    }
    fill();
    return true;
}

// Its folders are listed by the caller; nothing more is asked of it.
void SmbLister::worker_gone(std::size_t worker) {
    workers_[worker]->alive = false;
    workers_[worker]->outstanding = 0;
    workers_[worker]->queued_bytes = 0;
    if (workers_[worker]->child) workers_[worker]->child->kill();  // stuck or confused: not asked again
    for (auto it = requests_.begin(); it != requests_.end();) {
        if (it->second.worker != worker) {
            ++it;
            continue;
        }
        if (Folder* f = it->second.folder) {
            f->done = true;
            f->entries.reset();
        }
        it = requests_.erase(it);
    }
    for (auto& [id, upload] : uploads_)
        if (upload.worker == worker && (upload.commit || !upload.ended)) upload_failed(id, "");
    std::erase_if(uploads_, [&](const auto& u) { return u.second.worker == worker; });
}

void SmbLister::upload_failed(std::uint32_t id, std::string error) {
    auto it = uploads_.find(id);
    if (it != uploads_.end() && !upload_failures_.count(id)) upload_failures_[id] = {it->second.path, std::move(error)};
}

std::optional<std::uint32_t> SmbLister::upload_begin(const std::string& path) {
    receive(std::chrono::steady_clock::now());  // what came meanwhile: answers, and workers gone
    Worker* best = nullptr;
    std::size_t index = 0;
    for (std::size_t i = 0; i < workers_.size(); ++i) {
        Worker& w = *workers_[i];
        if (w.alive && (!best || w.outstanding < best->outstanding)) {
            best = &w;
            index = i;
        }
    }
    if (!best) return std::nullopt;
    const std::uint32_t id = next_id_++;
    ++best->outstanding;
    uploads_[id] = {path, index};
    return id;
}

// Frames go to the pipe as they are made: a write waits while the worker
// is behind, which is what keeps the content in flight bounded.
void SmbLister::upload_send(std::uint32_t id, const char* data, std::size_t size, std::optional<UploadEnd> end) {
    auto it = uploads_.find(id);
    if (it == uploads_.end() || it->second.ended) return;  // its worker is gone: failed already
    Upload& upload = it->second;
    Worker& w = *workers_[upload.worker];
    if (end && !end->commit && !upload.started) {
        --w.outstanding;  // the worker never heard of it
        uploads_.erase(it);
        return;
    }
    std::string out;
    auto frame = [&](char kind, const std::function<void(std::string&)>& fill) {
        std::string payload(1, kind);
        put32(payload, id);
        fill(payload);
        out += framed(payload);
    };
    if (!upload.started) frame(kCreate, [&](std::string& p) { put_text(p, upload.path); });
    for (std::size_t at = 0; at < size;) {
        const std::size_t n = std::min<std::size_t>(size - at, kMaxFrame / 2);
        frame(kData, [&](std::string& p) { p.append(data + at, n); });
        at += n;
    }
    if (end)
        frame(end->commit ? kCommit : kDrop, [&](std::string& p) {
            if (!end->commit) return;
            p.push_back(end->mtime_ns ? 1 : 0);
            put64(p, static_cast<std::uint64_t>(end->mtime_ns.value_or(0)));
        });
    upload.started = true;
    upload.ended = end.has_value();
    upload.commit = end && end->commit;
    try {
        w.child->write(out.data(), out.size());
    } catch (const platform::PipeError&) {
        worker_gone(upload.worker);
    }
}

std::vector<SmbLister::UploadFailure> SmbLister::settle() {
    // Ended uploads are answered in the order each worker got them; one
    // not answered this long after the last answer means a stuck worker.
    auto due = [&] {
        return std::any_of(uploads_.begin(), uploads_.end(), [](const auto& u) { return u.second.ended; });
    };
    while (due()) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kReplyTimeoutMs);
        if (receive(deadline)) continue;
        std::set<std::size_t> stuck;
        for (const auto& [id, upload] : uploads_)
            if (upload.ended) stuck.insert(upload.worker);
        for (std::size_t w : stuck) worker_gone(w);
    }
    std::vector<UploadFailure> out;
    for (auto& [id, failure] : upload_failures_) out.push_back(std::move(failure));
    upload_failures_.clear();
    return out;
}

namespace {

int serve(const std::function<SmbWorkerSide(const SmbListerLogon&)>& open) {
    platform::ignore_broken_pipes();
    std::string in;
    auto hello = read_stdin_frame(in);
    if (!hello) return 2;
    Fields fields(*hello);
    SmbListerLogon logon;
    std::uint8_t encrypt = 0;
    if (!fields.text(logon.url) || !fields.text(logon.user) || !fields.text(logon.domain) ||
        !fields.text(logon.password) || !fields.u8(encrypt))
        return 2;
    logon.require_encryption = encrypt != 0;
    SmbWorkerSide side;
    try {
        side = open(logon);
    } catch (const Error& e) {
        write_stdout_frame(std::string(1, static_cast<char>(kFailed)) + e.what());
        return 1;
    }
    write_stdout_frame(std::string(1, static_cast<char>(kListed)) + kGreeting);
    // Files being written, and why one failed (the rest of its content is
    // let go; the failure is told when it is closed).
    std::map<std::uint32_t, std::unique_ptr<Writer>> writers;
    std::map<std::uint32_t, std::string> failed;
    auto answer = [](std::uint32_t id, const std::string* error) {
        std::string reply;
        put32(reply, id);
        reply.push_back(static_cast<char>(error ? kFailed : kListed));
        if (error) put_text(reply, *error);
        write_stdout_frame(reply);
    };
    while (auto request = read_stdin_frame(in)) {
        Fields asked(*request);
        std::uint8_t kind;
        std::uint32_t id;
        if (!asked.u8(kind) || !asked.u32(id)) return 2;
        switch (kind) {
            case kList: {
                std::string folder;
                if (!asked.text(folder)) return 2;
                std::string reply;
                put32(reply, id);
                try {
                    auto entries = side.list(folder);
                    reply.push_back(static_cast<char>(kListed));
                    put32(reply, static_cast<std::uint32_t>(entries.size()));
                    for (const auto& e : entries) {
                        put_text(reply, e.name);
                        reply.push_back(static_cast<char>(e.stat.kind));
                        put64(reply, e.stat.size);
                        put64(reply, static_cast<std::uint64_t>(e.stat.mtime_ns));
                    }
                } catch (const Error&) {
                    reply.push_back(static_cast<char>(kFailed));
                }
                write_stdout_frame(reply);
                break;
            }
            case kCreate: {
                std::string path;
                if (!asked.text(path) || writers.count(id) || failed.count(id)) return 2;
                try {
                    writers[id] = side.create(path);
                } catch (const Error& e) {
                    failed[id] = e.what();
                }
                break;
            }
            case kData: {
                auto it = writers.find(id);
                if (it == writers.end()) {
                    if (!failed.count(id)) return 2;
                    break;
                }
                const std::string_view bytes = asked.rest();
                try {
                    it->second->write(bytes.data(), bytes.size());
                } catch (const Error& e) {
                    failed[id] = e.what();
                    writers.erase(it);
                }
                break;
            }
            case kCommit:
            case kDrop: {
                std::uint8_t has_mtime = 0;
                std::uint64_t mtime = 0;
                if (kind == kCommit && (!asked.u8(has_mtime) || !asked.u64(mtime))) return 2;
                auto it = writers.find(id);
                if (it == writers.end()) {
                    auto why = failed.find(id);
                    if (why == failed.end()) return 2;
                    answer(id, &why->second);
                    failed.erase(why);
                    break;
                }
                std::unique_ptr<Writer> writer = std::move(it->second);
                writers.erase(it);
                std::optional<std::string> error;
                try {
                    if (kind == kCommit) {
                        if (has_mtime) writer->set_mtime_on_commit(static_cast<std::int64_t>(mtime));
                        writer->commit(Flush::Deferred);
                    }
                    writer.reset();
                } catch (const Error& e) {
                    error = e.what();
                }
                answer(id, error ? &*error : nullptr);
                break;
            }
            default: return 2;
        }
    }
    return 0;
}

}  // namespace

int serve_smb_listings(const std::function<SmbWorkerSide(const SmbListerLogon&)>& open) {
    try {
        return serve(open);
    } catch (const std::exception&) {
        return 2;  // the lister is gone (its pipes closed) or spoke nonsense: nobody to tell
    }
}

}  // namespace exmsync::transport
