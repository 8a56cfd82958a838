// Byte streams between exmsync and a remote exmsync agent, and the frames the
// agent protocol sends over them.
//
// A stream is whatever connects the two: a libssh exec channel, a local
// program (a local `exmsync agent` in the tests, or the user's own ssh with
// --rsh 'ssh -J bastion'), or the agent's own stdin and stdout.
//
// After the one-line JSON handshake each way, everything is a frame: a 4-byte
// big-endian length, a 1-byte type and the payload.
//   'J'  a JSON message (a request or a reply)
//   'D'  a piece of a bulk transfer (an archive, a manifest), at most 1 MiB
//   'E'  the end of a bulk transfer
//   'X'  the sender gave up on a bulk transfer; the payload says why
//   'K'  keepalive: the agent is still working on the request
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "sync/error.hpp"
#include "transport/ssh_session.hpp"

namespace exmsync::sync::agent {

class ByteStream {
public:
    virtual ~ByteStream() = default;
    // Up to `size` bytes; 0 only at the end of the stream. Throws Error when
    // the connection fails or nothing comes for the stream's timeout.
    virtual std::size_t read(char* buffer, std::size_t size) = 0;
    // Throws Error when the other side is gone.
    virtual void write(const char* data, std::size_t size) = 0;
    // Ends what this side sends.
    virtual void close_write() = 0;
    // What the other side's program wrote on stderr, for messages (may be
    // empty), and its exit status once it ended (-1: unknown).
    virtual std::string diagnostics() { return {}; }
    virtual int exit_status() { return -1; }
    // Bytes written and read so far, as rsync counts them.
    virtual std::uint64_t bytes_written() const = 0;
    virtual std::uint64_t bytes_read() const = 0;
};

#ifdef EXMSYNC_WITH_SSH
// A command run through an SSH session.
std::unique_ptr<ByteStream> ssh_stream(std::shared_ptr<transport::SshSession> session, const std::string& command,
                                       int timeout_seconds);
#endif
// A local program run without a shell: its stdin and stdout.
std::unique_ptr<ByteStream> process_stream(const std::vector<std::string>& argv, int timeout_seconds);
// This process's stdin and stdout (the agent's side); it waits for its client
// as long as the client stays connected.
std::unique_ptr<ByteStream> stdio_stream();

// Reads and writes frames on a stream. Sending is safe from two threads (the
// agent's keepalive), receiving from one.
class Channel {
public:
    Channel(ByteStream& stream, std::string peer) : stream_(stream), peer_(std::move(peer)) {}

    // The handshake is one JSON line each way, so that anything answering
    // instead (a shell's "command not found", an old exmsync) shows as itself.
    void send_line(const nlohmann::json& message);
    // nullopt at the end of the stream; the raw line when it is not JSON.
    std::optional<std::string> read_line(std::size_t max_bytes = 64 * 1024);

    void send(const nlohmann::json& message);
    // The next JSON message; throws Error when the stream ends or another
    // kind of frame comes. Keepalives are skipped.
    nlohmann::json receive();
    // The same, but nullopt when the other side closed the stream cleanly
    // between messages.
    std::optional<nlohmann::json> try_receive();

    // A bulk transfer: `produce` writes through the given sink, then 'E'
    // follows; if `produce` throws, 'X' with its message goes instead, and
    // the exception propagates.
    using Sink = std::function<void(const char*, std::size_t)>;
    void send_data(const std::function<void(const Sink&)>& produce);
    // The receiving side of a transfer: begin_data() when one comes next,
    // then read_data() pulls up to `size` bytes, 0 at its 'E' (and after).
    // Throws Error at an 'X' (with the sender's reason) or a cut stream.
    void begin_data();
    std::size_t read_data(char* buffer, std::size_t size);
    // Reads and drops the rest of the current transfer (after a failure, so
    // that the next message can be read); nothing when it has ended.
    void skip_data();
    // The whole transfer into a local file.
    void receive_file(const std::string& path);
    void send_file(const std::string& path);
    void send_keepalive();

    ByteStream& stream() { return stream_; }
    const std::string& peer() const { return peer_; }

private:
    void write_frame(char type, const char* data, std::size_t size);
    // Reads the next frame's head; false at a clean end of the stream.
    bool read_head(char& type, std::uint32_t& size);
    void read_exactly(char* buffer, std::size_t size);
    [[noreturn]] void lost(const std::string& what);

    ByteStream& stream_;
    std::string peer_;
    std::mutex send_mutex_;
    std::string pending_;        // bytes read past the handshake line
    std::uint32_t data_left_ = 0;  // unread bytes of the current 'D' frame
    bool data_ended_ = true;       // the current transfer's 'E' or 'X' was read
};

}  // namespace exmsync::sync::agent
