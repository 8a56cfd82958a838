#include "transport/sftp_lister.hpp"

#include <algorithm>

namespace exmsync::transport {
namespace {

// SFTP version 3 (draft-ietf-secsh-filexfer-02), the one OpenSSH speaks.
constexpr std::uint8_t kInit = 1, kVersion = 2, kOpenDir = 11, kReadDir = 12, kClose = 4;
constexpr std::uint8_t kStatus = 101, kHandle = 102, kName = 104;
constexpr std::uint32_t kEof = 1, kFailure = 4;
constexpr std::uint32_t kAttrSize = 0x1, kAttrUidGid = 0x2, kAttrPermissions = 0x4, kAttrTimes = 0x8,
                        kAttrExtended = 0x80000000u;
// Far above what sftp-server sends (256 KiB): anything longer is not SFTP.
constexpr std::uint32_t kMaxPacket = 4u << 20;

void put32(std::string& out, std::uint32_t v) {
    const char bytes[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                           static_cast<char>(v)};
    out.append(bytes, 4);
}

std::uint32_t get32(const char* p) {
    auto b = reinterpret_cast<const unsigned char*>(p);
    return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) | b[3];
}

// Reads fields of one packet; false once a field runs past its end.
class Fields {
public:
    Fields(const std::string& data, std::size_t at, std::size_t end) : data_(data), at_(at), end_(end) {}
    bool u32(std::uint32_t& v) {
        if (end_ - at_ < 4) return false;
        v = get32(data_.data() + at_);
        at_ += 4;
        return true;
    }
    bool u64(std::uint64_t& v) {
        std::uint32_t high, low;
        if (!u32(high) || !u32(low)) return false;
        v = (std::uint64_t{high} << 32) | low;
        return true;
    }
    bool text(std::string* v) {
        std::uint32_t n;
        if (!u32(n) || end_ - at_ < n) return false;
        if (v) v->assign(data_, at_, n);
        at_ += n;
        return true;
    }
    bool attributes(Stat& st) {
        std::uint32_t flags, skip, perms = 0, atime, mtime = 0;
        if (!u32(flags)) return false;
        if ((flags & kAttrSize) && !u64(st.size)) return false;
        if ((flags & kAttrUidGid) && (!u32(skip) || !u32(skip))) return false;
        if ((flags & kAttrPermissions) && !u32(perms)) return false;
        if ((flags & kAttrTimes) && (!u32(atime) || !u32(mtime))) return false;
        if (flags & kAttrExtended) {
            std::uint32_t count;
            if (!u32(count)) return false;
            for (std::uint32_t i = 0; i < count; ++i)
                if (!text(nullptr) || !text(nullptr)) return false;
        }
        // Version 3 carries the type only in the permission bits, as libssh reads it.
        switch (perms & 0170000) {
            case 0100000: st.kind = Kind::File; break;
            case 0040000: st.kind = Kind::Directory; break;
            case 0120000: st.kind = Kind::Symlink; break;
            default: st.kind = Kind::Other; break;
        }
        st.mtime_ns = static_cast<std::int64_t>(mtime) * 1'000'000'000;
        return true;
    }

private:
    const std::string& data_;
    std::size_t at_, end_;
};

}  // namespace

struct SftpLister::Folder {
    std::string path;
    std::string handle;  // empty until the server opened it
    bool done = false;
    bool dropped = false;
    Listing listing;
};

SftpLister::SftpLister(SshSession& session, int timeout_ms)
    : session_(session), timeout_ms_(timeout_ms), channel_(session.subsystem("sftp")) {
    std::string init;
    put32(init, 5);
    init.push_back(static_cast<char>(kInit));
    put32(init, 3);
    channel_->write(init.data(), init.size());
    while (in_.size() < 4 || in_.size() < 4 + std::size_t{get32(in_.data())}) {
        char buffer[4096];
        auto n = channel_->read(buffer, sizeof buffer, timeout_ms_);
        if (!n || *n == 0) fail("the SFTP server did not start");
        in_.append(buffer, *n);
        if (in_.size() > kMaxPacket) fail("the SFTP server's greeting is too long");
    }
    if (get32(in_.data()) < 5 || static_cast<std::uint8_t>(in_[4]) != kVersion || get32(in_.data() + 5) != 3)
        fail("the SFTP server does not speak version 3");
    in_.erase(0, 4 + get32(in_.data()));
}

SftpLister::~SftpLister() = default;

void SftpLister::want(const std::vector<std::string>& folders) {
    if (broken_) return;
    for (const auto& folder : folders)
        if (!folders_.count(folder) && hinted_.size() < kHinted) hinted_.insert(folder);
    fill();  // one write for all: each is an SSH packet, a wakeup of sshd and a send
}

bool SftpLister::has(const std::string& folder) const {
    return !broken_ && (folders_.count(folder) || hinted_.count(folder));
}

SftpLister::Listing SftpLister::take(const std::string& folder) {
    if (broken_) fail("the listing channel failed before");
    auto it = folders_.find(folder);
    if (it == folders_.end()) {
        hinted_.erase(folder);
        start(folder);
        it = folders_.find(folder);
    }
    // A walk never comes back: what lies before this folder in walk order
    // (guesses inside a folder the walk left out) will not be asked for.
    hinted_.erase(hinted_.begin(), hinted_.lower_bound(folder));
    for (auto before = folders_.begin(); before != it;) before = drop(before);
    while (!it->second->done) receive();
    Listing out = std::move(it->second->listing);
    folders_.erase(it);
    fill();
    return out;
}

SftpLister::Folders::iterator SftpLister::drop(Folders::iterator it) {
    if (!it->second->done) {
        it->second->dropped = true;  // its replies still come, and its handle must be closed
        dropped_.push_back(std::move(it->second));
    }
    return folders_.erase(it);
}

void SftpLister::forget() {
    hinted_.clear();
    for (auto it = folders_.begin(); it != folders_.end();) it = drop(it);
}

void SftpLister::start(const std::string& folder) {
    auto owned = std::make_unique<Folder>();
    owned->path = folder;
    std::uint32_t id = next_id_++;
    requests_[id] = owned.get();
    folders_[folder] = std::move(owned);
    send(kOpenDir, id, folder);
}

// Starts hinted folders, first in walk order, while there is room.
void SftpLister::fill() {
    while (!hinted_.empty() && folders_.size() + dropped_.size() < kInFlight) {
        auto first = hinted_.begin();
        std::string folder = *first;
        hinted_.erase(first);
        start(folder);
    }
    // Requests go out in batches: every write is an SSH packet, a send and a
    // wakeup of sshd, which cost more CPU than the server's work for a small
    // folder. The server is kept busy meanwhile by what it has not answered.
    if (queued_ >= kBatch || awaiting_ < kBatch) flush();
}

void SftpLister::flush() {
    if (out_.empty() || broken_) return;
    try {
        channel_->write(out_.data(), out_.size());
    } catch (...) {
        broken_ = true;
        throw;
    }
    out_.clear();
    awaiting_ += queued_;
    queued_ = 0;
}

void SftpLister::send(std::uint8_t type, std::uint32_t id, const std::string& text) {
    ++queued_;
    put32(out_, static_cast<std::uint32_t>(1 + 4 + 4 + text.size()));
    out_.push_back(static_cast<char>(type));
    put32(out_, id);
    put32(out_, static_cast<std::uint32_t>(text.size()));
    out_ += text;
}

void SftpLister::receive() {
    fill();
    flush();  // never wait with requests unsent
    if (awaiting_ == 0) fail("internal: waiting for a reply to nothing");
    char buffer[64 * 1024];
    std::optional<std::size_t> n;
    try {
        n = channel_->read(buffer, sizeof buffer, timeout_ms_);
        if (!n)
            fail("the server did not answer for " + std::to_string(timeout_ms_ / 1000) +
                 " s (raise --ssh-timeout for a slow link)");
        if (*n == 0) fail("the server closed the SFTP channel");
        // And what else has come, so the requests these replies lead to go
        // out in one write.
        std::size_t more = *n;
        while (more > 0 && in_.size() < kMaxPacket) {
            in_.append(buffer, more);
            more = channel_->read_now(buffer, sizeof buffer);
        }
    } catch (const Error&) {
        broken_ = true;
        throw;
    }
    std::size_t at = 0;
    while (in_.size() - at >= 4) {
        std::uint32_t length = get32(in_.data() + at);
        if (length < 5 || length > kMaxPacket) fail("the SFTP server sent a malformed reply");
        if (in_.size() - at - 4 < length) break;
        auto type = static_cast<std::uint8_t>(in_[at + 4]);
        handle(type, get32(in_.data() + at + 5), in_.substr(at + 9, length - 5));
        at += 4 + length;
    }
    in_.erase(0, at);
}

void SftpLister::handle(std::uint8_t type, std::uint32_t id, const std::string& body) {
    auto request = requests_.find(id);
    if (request == requests_.end()) fail("the SFTP server answered a request it was not sent");
    Folder* folder = request->second;
    requests_.erase(request);
    --awaiting_;
    if (!folder) return;  // a CLOSE: nothing waits for it
    Fields fields(body, 0, body.size());
    if (type == kStatus) {
        std::uint32_t code = 0;
        std::string message;
        if (!fields.u32(code)) fail("the SFTP server sent a malformed status");
        fields.text(&message);
        // OPENDIR ends in a handle, READDIR in names or EOF: any other status is a failure.
        std::uint32_t status = !folder->handle.empty() && code == kEof ? 0 : code ? code : kFailure;
        return end(*folder, status, std::move(message));
    }
    if (type == kHandle && folder->handle.empty()) {
        if (!fields.text(&folder->handle) || folder->handle.empty()) fail("the SFTP server sent a malformed handle");
    } else if (type == kName && !folder->handle.empty()) {
        std::uint32_t count;
        if (!fields.u32(count)) fail("the SFTP server sent a malformed listing");
        for (std::uint32_t i = 0; i < count; ++i) {
            DirEntry entry;
            if (!fields.text(&entry.name) || !fields.text(nullptr) || !fields.attributes(entry.stat))
                fail("the SFTP server sent a malformed listing");
            if (entry.name == "." || entry.name == ".." || entry.name.empty()) continue;
            folder->listing.entries.push_back(std::move(entry));
        }
    } else {
        fail("the SFTP server sent an unexpected reply");
    }
    if (folder->dropped) return end(*folder, kFailure, "");  // nobody waits for the rest
    std::uint32_t next = next_id_++;
    requests_[next] = folder;
    send(kReadDir, next, folder->handle);
}

void SftpLister::end(Folder& folder, std::uint32_t status, std::string message) {
    if (!folder.handle.empty()) {
        std::uint32_t close_id = next_id_++;
        requests_[close_id] = nullptr;  // its reply is read and let go
        send(kClose, close_id, folder.handle);
    }
    finish(folder, status, std::move(message));
}

void SftpLister::finish(Folder& folder, std::uint32_t status, std::string message) {
    folder.done = true;
    folder.listing.status = status;
    folder.listing.message = std::move(message);
    if (folder.dropped) {
        std::erase_if(dropped_, [&](const std::unique_ptr<Folder>& f) { return f.get() == &folder; });
        return;
    }
    // Its subfolders are likely next: a walk hints a folder's subfolders
    // only once it has them, which keeps few folders in flight and makes
    // every reply a write of its own. Guessed ahead, a request rides along
    // with others. A guess the walk skips is dropped once the walk passes it.
    if (status != 0) return;
    std::string prefix = folder.path.back() == '/' ? folder.path : folder.path + "/";
    for (const auto& entry : folder.listing.entries) {
        if (entry.stat.kind != Kind::Directory || hinted_.size() >= kHinted) continue;
        std::string child = prefix + entry.name;
        if (!folders_.count(child)) hinted_.insert(std::move(child));
    }
}

void SftpLister::fail(const std::string& problem) {
    broken_ = true;
    throw Error("target " + session_.url().text() + ": cannot list folders: " + problem);
}

}  // namespace exmsync::transport
