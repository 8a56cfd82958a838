#include "sync/agent/stream.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <memory>
#include <thread>

#include "manifest/sorted_file.hpp"
#include "platform/process.hpp"
#include "platform/files.hpp"

namespace exmsync::sync::agent {
namespace {

constexpr std::uint32_t kMaxMessage = 16u << 20;  // a JSON message (history of a busy target)
constexpr std::uint32_t kMaxData = 1u << 20;

std::string timed_out(int seconds) {
    return "no answer for " + std::to_string(seconds) + " s (raise --ssh-timeout for a slow link)";
}

#ifdef EXMSYNC_WITH_SSH
class SshStream : public ByteStream {
public:
    SshStream(std::shared_ptr<transport::SshSession> session, const std::string& command, int timeout_seconds)
        : session_(std::move(session)), channel_(session_->exec(command)), timeout_(timeout_seconds) {}

    std::size_t read(char* buffer, std::size_t size) override {
        auto n = channel_->read(buffer, size, timeout_ * 1000);
        if (!n) throw Error(timed_out(timeout_));
        return *n;
    }
    void write(const char* data, std::size_t size) override { channel_->write(data, size); }
    void close_write() override { channel_->close_input(); }
    std::string diagnostics() override { return channel_->errors(); }
    int exit_status() override { return channel_->exit_status(); }
    std::uint64_t bytes_written() const override { return channel_->bytes_written(); }
    std::uint64_t bytes_read() const override { return channel_->bytes_read(); }

private:
    std::shared_ptr<transport::SshSession> session_;
    std::unique_ptr<transport::SshChannel> channel_;
    int timeout_;
};
#endif

class ProcessStream : public ByteStream {
public:
    ProcessStream(const std::vector<std::string>& argv, int timeout_seconds)
        : errors_(), child_(argv, errors_.path().string()), timeout_(timeout_seconds) {}

    std::size_t read(char* buffer, std::size_t size) override {
        try {
            auto n = child_.read(buffer, size, timeout_ * 1000);
            if (!n) throw Error(timed_out(timeout_));
            read_ += *n;
            return *n;
        } catch (const platform::PipeError& e) {
            throw Error(e.what());
        }
    }
    void write(const char* data, std::size_t size) override {
        try {
            child_.write(data, size);
            written_ += size;
        } catch (const platform::PipeError& e) {
            throw Error(e.what());
        }
    }
    void close_write() override { child_.close_input(); }
    std::string diagnostics() override {
        std::ifstream in(platform::stream_path(errors_.path().string()));
        std::string text(16384, '\0');
        in.read(text.data(), static_cast<std::streamsize>(text.size()));
        text.resize(static_cast<std::size_t>(in.gcount()));
        return text;
    }
    int exit_status() override { return child_.wait(); }
    std::uint64_t bytes_written() const override { return written_; }
    std::uint64_t bytes_read() const override { return read_; }

private:
    manifest::TempFile errors_;
    platform::Child child_;
    int timeout_;
    std::uint64_t written_ = 0, read_ = 0;
};

// The agent's stdin is read ahead by a thread of its own into a bounded
// buffer (kReadAhead). Without it the two sides go in lockstep: while the
// apply creates files (an inode each, then a flush) nothing reads, the pipe
// and the SSH window fill within 2 MiB, and the client stops packing; while
// the client reads and compresses, the agent waits. With it, packing on one
// side and writing on the other overlap.
constexpr std::size_t kReadAhead = 8u << 20;
constexpr std::size_t kReadChunk = 256u << 10;

class StdioStream : public ByteStream {
public:
    StdioStream() : state_(std::make_shared<State>()) {
        platform::ignore_broken_pipes();
        // Detached: it may sit in a read of stdin when the agent is done, and
        // holds only the shared state, never this stream.
        std::thread([state = state_] { pump(*state); }).detach();
    }

    std::size_t read(char* buffer, std::size_t size) override {
        std::unique_lock lock(state_->mutex);
        state_->ready.wait(lock, [&] { return !state_->chunks.empty() || state_->ended; });
        if (state_->chunks.empty()) {
            if (!state_->error.empty()) throw Error(state_->error);
            return 0;
        }
        Chunk& front = state_->chunks.front();
        const std::size_t n = std::min(size, front.size - state_->offset);
        std::memcpy(buffer, front.bytes.get() + state_->offset, n);
        state_->offset += n;
        state_->buffered -= n;
        if (state_->offset == front.size) {
            state_->chunks.pop_front();
            state_->offset = 0;
        }
        lock.unlock();
        state_->room.notify_one();
        read_ += n;
        return n;
    }
    void write(const char* data, std::size_t size) override {
        try {
            platform::write_stdout(data, size);
            written_ += size;
        } catch (const platform::PipeError& e) {
            throw Error(e.what());
        }
    }
    void close_write() override {}
    std::uint64_t bytes_written() const override { return written_; }
    std::uint64_t bytes_read() const override { return read_; }

private:
    // Bytes as read, not zeroed first: a std::string of kReadChunk would set
    // every byte of every read before the read overwrites it.
    struct Chunk {
        std::unique_ptr<char[]> bytes;
        std::size_t size = 0;
    };
    struct State {
        std::mutex mutex;
        std::condition_variable ready, room;
        std::deque<Chunk> chunks;
        std::size_t offset = 0;    // read from chunks.front()
        std::size_t buffered = 0;  // bytes in chunks not yet read
        bool ended = false;        // stdin's end, or a failure (error)
        std::string error;
    };

    // Reads stdin as long as it is open and the buffer has room; it waits
    // for its client as long as the client stays connected.
    static void pump(State& state) {
        while (true) {
            {
                std::unique_lock lock(state.mutex);
                state.room.wait(lock, [&] { return state.buffered < kReadAhead; });
            }
            Chunk chunk{std::make_unique_for_overwrite<char[]>(kReadChunk)};
            std::optional<std::size_t> n;
            std::string error;
            try {
                while (!(n = platform::read_stdin(chunk.bytes.get(), kReadChunk, 60'000))) {
                }
            } catch (const std::exception& e) {  // a thread of its own: nothing may escape
                error = *e.what() ? e.what() : "cannot read standard input";
            }
            std::lock_guard lock(state.mutex);
            if (!error.empty() || *n == 0) {
                state.error = error;
                state.ended = true;
                state.ready.notify_one();
                return;
            }
            // A short read (a request, a keepalive) keeps only what it holds.
            if (*n < kReadChunk / 4) {
                auto kept = std::make_unique_for_overwrite<char[]>(*n);
                std::memcpy(kept.get(), chunk.bytes.get(), *n);
                chunk.bytes = std::move(kept);
            }
            chunk.size = *n;
            state.buffered += *n;
            state.chunks.push_back(std::move(chunk));
            state.ready.notify_one();
        }
    }

    std::shared_ptr<State> state_;
    std::uint64_t written_ = 0, read_ = 0;
};

}  // namespace

#ifdef EXMSYNC_WITH_SSH
std::unique_ptr<ByteStream> ssh_stream(std::shared_ptr<transport::SshSession> session, const std::string& command,
                                       int timeout_seconds) {
    return std::make_unique<SshStream>(std::move(session), command, timeout_seconds);
}
#endif

std::unique_ptr<ByteStream> process_stream(const std::vector<std::string>& argv, int timeout_seconds) {
    try {
        return std::make_unique<ProcessStream>(argv, timeout_seconds);
    } catch (const platform::PipeError& e) {
        throw UnreachableError(e.what());
    }
}

std::unique_ptr<ByteStream> stdio_stream() { return std::make_unique<StdioStream>(); }

// ---- the handshake line ----

void Channel::send_line(const nlohmann::json& message) {
    std::string line = message.dump() + "\n";
    std::lock_guard lock(send_mutex_);
    try {
        stream_.write(line.data(), line.size());
    } catch (const std::exception& e) {
        lost(e.what());
    }
}

std::optional<std::string> Channel::read_line(std::size_t max_bytes) {
    while (true) {
        auto newline = pending_.find('\n');
        if (newline != std::string::npos) {
            std::string line = pending_.substr(0, newline);
            pending_.erase(0, newline + 1);
            return line;
        }
        if (pending_.size() > max_bytes) {
            std::string line = pending_.substr(0, max_bytes);
            pending_.clear();
            return line;
        }
        char buffer[4096];
        std::size_t n = 0;
        try {
            n = stream_.read(buffer, sizeof buffer);
        } catch (const std::exception& e) {
            lost(e.what());
        }
        if (n == 0) {
            if (pending_.empty()) return std::nullopt;
            std::string line = std::move(pending_);
            pending_.clear();
            return line;
        }
        pending_.append(buffer, n);
    }
}

// ---- frames ----

void Channel::write_frame(char type, const char* data, std::size_t size) {
    char head[5] = {static_cast<char>((size >> 24) & 0xff), static_cast<char>((size >> 16) & 0xff),
                    static_cast<char>((size >> 8) & 0xff), static_cast<char>(size & 0xff), type};
    std::lock_guard lock(send_mutex_);
    try {
        // One write for a small frame: a reply is one packet, not two.
        if (size <= 4096) {
            std::string frame(head, 5);
            frame.append(data, size);
            stream_.write(frame.data(), frame.size());
        } else {
            stream_.write(head, 5);
            stream_.write(data, size);
        }
    } catch (const std::exception& e) {
        lost(e.what());
    }
}

void Channel::read_exactly(char* buffer, std::size_t size) {
    while (size > 0) {
        std::size_t n = 0;
        if (!pending_.empty()) {
            n = std::min(size, pending_.size());
            std::copy_n(pending_.data(), n, buffer);
            pending_.erase(0, n);
        } else {
            try {
                n = stream_.read(buffer, size);
            } catch (const std::exception& e) {
                lost(e.what());
            }
            if (n == 0) lost("the connection ended in the middle of a message");
        }
        buffer += n;
        size -= n;
    }
}

bool Channel::read_head(char& type, std::uint32_t& size) {
    unsigned char head[5];
    // The first byte tells a clean end from a cut.
    if (pending_.empty()) {
        std::size_t n = 0;
        try {
            n = stream_.read(reinterpret_cast<char*>(head), 1);
        } catch (const std::exception& e) {
            lost(e.what());
        }
        if (n == 0) return false;
    } else {
        head[0] = static_cast<unsigned char>(pending_[0]);
        pending_.erase(0, 1);
    }
    read_exactly(reinterpret_cast<char*>(head) + 1, 4);
    size = (std::uint32_t{head[0]} << 24) | (std::uint32_t{head[1]} << 16) | (std::uint32_t{head[2]} << 8) | head[3];
    type = static_cast<char>(head[4]);
    return true;
}

void Channel::send(const nlohmann::json& message) {
    std::string text = message.dump();
    write_frame('J', text.data(), text.size());
}

nlohmann::json Channel::receive() {
    auto message = try_receive();
    if (!message) lost("the connection ended");
    return std::move(*message);
}

std::optional<nlohmann::json> Channel::try_receive() {
    while (true) {
        char type = 0;
        std::uint32_t size = 0;
        if (!read_head(type, size)) return std::nullopt;
        if (type == 'K' && size == 0) continue;
        if (type != 'J') lost(std::string("expected a message, got a frame of type '") + type + "'");
        if (size > kMaxMessage) lost("a message of " + std::to_string(size) + " bytes is too large");
        std::string text(size, '\0');
        read_exactly(text.data(), size);
        try {
            return nlohmann::json::parse(text);
        } catch (const nlohmann::json::exception&) {
            lost("a message is not JSON");
        }
    }
}

void Channel::send_data(const std::function<void(const Sink&)>& produce) {
    std::string buffer;
    buffer.reserve(kMaxData);
    auto sink = [&](const char* data, std::size_t size) {
        while (size > 0) {
            std::size_t n = std::min<std::size_t>(size, kMaxData - buffer.size());
            buffer.append(data, n);
            data += n;
            size -= n;
            if (buffer.size() == kMaxData) {
                write_frame('D', buffer.data(), buffer.size());
                buffer.clear();
            }
        }
    };
    try {
        produce(sink);
    } catch (const std::exception& e) {
        // What was sent so far is dropped by the other side: an 'X' is never
        // taken for a complete transfer.
        std::string why = e.what();
        write_frame('X', why.data(), std::min<std::size_t>(why.size(), 4096));
        throw;
    }
    if (!buffer.empty()) write_frame('D', buffer.data(), buffer.size());
    write_frame('E', nullptr, 0);
}

void Channel::begin_data() {
    data_ended_ = false;
    data_left_ = 0;
}

std::size_t Channel::read_data(char* buffer, std::size_t size) {
    while (data_left_ == 0) {
        if (data_ended_) return 0;
        char type = 0;
        std::uint32_t frame_size = 0;
        if (!read_head(type, frame_size)) lost("the connection ended in the middle of a transfer");
        if (type == 'K' && frame_size == 0) continue;
        if (type == 'E' && frame_size == 0) {
            data_ended_ = true;
            return 0;
        }
        if (type == 'X') {
            std::string why(std::min<std::uint32_t>(frame_size, 4096), '\0');
            read_exactly(why.data(), why.size());
            for (std::uint32_t rest = frame_size - static_cast<std::uint32_t>(why.size()); rest > 0;) {
                char drop[256];
                std::uint32_t n = std::min<std::uint32_t>(rest, sizeof drop);
                read_exactly(drop, n);
                rest -= n;
            }
            data_ended_ = true;
            throw Error(peer_ + " gave up sending: " + why);
        }
        if (type != 'D' || frame_size == 0 || frame_size > kMaxData)
            lost(std::string("expected transfer data, got a frame of type '") + type + "'");
        data_left_ = frame_size;
    }
    std::size_t n = std::min<std::size_t>(size, data_left_);
    read_exactly(buffer, n);
    data_left_ -= static_cast<std::uint32_t>(n);
    return n;
}

void Channel::skip_data() {
    char buffer[64 * 1024];
    try {
        while (read_data(buffer, sizeof buffer) > 0) {
        }
    } catch (const UnreachableError&) {
        throw;  // the stream itself is gone
    } catch (const Error&) {
        // An 'X' ends the transfer as well as an 'E' does.
    }
}

void Channel::receive_file(const std::string& path) {
    begin_data();
    std::ofstream out(platform::stream_path(path), std::ios::binary | std::ios::trunc);
    if (!out) throw Error("cannot write " + path);
    char buffer[64 * 1024];
    while (std::size_t n = read_data(buffer, sizeof buffer)) out.write(buffer, static_cast<std::streamsize>(n));
    out.close();
    if (!out) throw Error("cannot write " + path);
}

void Channel::send_file(const std::string& path) {
    send_data([&](const Sink& sink) {
        std::ifstream in(platform::stream_path(path), std::ios::binary);
        if (!in) throw Error("cannot read " + path);
        std::vector<char> buffer(256 * 1024);
        while (in) {
            in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
            if (in.gcount() > 0) sink(buffer.data(), static_cast<std::size_t>(in.gcount()));
        }
        if (in.bad()) throw Error("cannot read " + path);
    });
}

void Channel::send_keepalive() { write_frame('K', nullptr, 0); }

void Channel::lost(const std::string& what) {
    std::string said = stream_.diagnostics();
    while (!said.empty() && (said.back() == '\n' || said.back() == '\r')) said.pop_back();
    if (auto newline = said.rfind('\n'); newline != std::string::npos) said = said.substr(newline + 1);
    throw UnreachableError(peer_ + ": lost the connection: " + what + (said.empty() ? "" : " (it said: " + said + ")"));
}

}  // namespace exmsync::sync::agent
