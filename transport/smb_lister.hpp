// Lists many folders of an SMB share at once, for a scan of the whole tree.
//
// libsmbclient waits for every reply and is not safe for threads in Debian's
// build (smb.hpp), so one connection lists one folder at a time: open, two
// directory queries and close, each a round trip through smbd. A no-op check
// of the 10,000-file template tree (958 folders) spent most of its time
// waiting on those. This lister starts a few exmsync processes of its own
// (`exmsync smb-lister`, each with its own connection and logon) and has them
// list the folders a walk will ask for next, in parallel, while the walk goes
// on with what has already come back.
//
// The same workers also write staged files (Transport::create_staged): a
// first push of the template tree spent half its time creating, writing,
// closing and dating staged files one round trip at a time. The content
// goes down the worker's pipe and the outcome of each file comes back later,
// collected by settle(). Every other change, and every check of a name's
// exact case, stays with the transport's own connection. The folders come as hints
// from the walk (want()), and the subfolders of every folder fetched are
// guessed too, as SftpLister does. Everything is fetched in walk order within
// fixed bounds (kInFlight folders, kHinted names), and nothing fetched is used
// after the target changed (forget()). A listing the lister could not make (a
// worker that did not start or log on, an error, a worker gone) is not an
// error here: take() says so and the caller lists that folder itself, so
// every error reads as it always did. Not thread-safe, like the transport.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "transport/path.hpp"
#include "transport/transport.hpp"

namespace exmsync::platform {
class Child;
}

namespace exmsync::transport {

// What a worker needs to connect as the transport did; sent on its stdin,
// never on its command line.
struct SmbListerLogon {
    std::string url;  // smb://[domain;]user@host[:port]/share/path, as typed
    std::string user, domain, password;
    bool require_encryption = false;
};

class SmbLister {
public:
    // Starts `workers` copies of `program` (this exmsync) with the argument
    // smb-lister. Never throws for a worker that cannot start: it is counted
    // as gone, and with none left has() is false.
    SmbLister(const std::string& program, const SmbListerLogon& logon, std::size_t workers);
    ~SmbLister();
    SmbLister(const SmbLister&) = delete;
    SmbLister& operator=(const SmbLister&) = delete;

    // These folders (paths inside the target) will be listed soon.
    void want(const std::vector<std::string>& folders);
    // Whether take() may have `folder`.
    bool has(const std::string& folder) const;
    // The listing of `folder` (sorted by name), waiting for it; nullopt when
    // the lister could not make it and the caller must list it itself.
    std::optional<std::vector<DirEntry>> take(const std::string& folder);
    // The target changed: nothing fetched or hinted so far is used.
    void forget();

    // Writing a staged file: upload_begin picks the worker with the least to
    // do (nullopt when none is left), upload_send passes content to it and,
    // with `end`, has it close the file (commit: with the mtime given) or
    // drop it. Nothing is reported here: a failed worker's uploads fail in
    // settle(), which waits until every ended upload is answered.
    struct UploadEnd {
        bool commit = true;
        std::optional<std::int64_t> mtime_ns;
    };
    struct UploadFailure {
        std::string path;
        std::string error;  // the worker's message; empty when the worker was lost
    };
    std::optional<std::uint32_t> upload_begin(const std::string& path);
    void upload_send(std::uint32_t id, const char* data, std::size_t size, std::optional<UploadEnd> end);
    // The failures since the last settle(), in the order the uploads began.
    std::vector<UploadFailure> settle();
    bool uploading() const { return !uploads_.empty(); }

    static constexpr std::size_t kWorkers = 3;
    // Folders asked for or listed and not yet taken, at most.
    static constexpr std::size_t kInFlight = 48;
    static constexpr std::size_t kHinted = 4096;
    // Requests written to one worker and not yet answered, in bytes: less
    // than a pipe holds, so a write never waits on a stuck worker.
    static constexpr std::size_t kQueuedBytes = 32 * 1024;
    // A folder not listed this long after take() began waiting for it means
    // its worker is stuck (libsmbclient's own timeout is 30 s): the worker is
    // ended and its folders are listed by the caller.
    static constexpr int kReplyTimeoutMs = 45'000;

private:
    struct Folder {
        std::string path;
        std::size_t worker = 0;
        bool done = false;
        std::optional<std::vector<DirEntry>> entries;
    };
    struct Worker;
    using Folders = std::map<std::string, std::unique_ptr<Folder>, WalkOrder>;

    bool start(const std::string& folder);
    void start_reader(std::size_t worker);
    void fill();
    // Waits for replies and handles what came; false at the deadline.
    bool receive(std::chrono::steady_clock::time_point deadline);
    void worker_gone(std::size_t worker);
    Folders::iterator drop(Folders::iterator it);
    bool any_alive() const;

    std::vector<std::unique_ptr<Worker>> workers_;
    std::uint32_t next_id_ = 1;
    Folders folders_;
    struct Request {
        Folder* folder;  // nullptr: dropped, its reply is let go
        std::size_t worker;
        std::size_t bytes;  // of the request on the pipe
    };
    std::map<std::uint32_t, Request> requests_;
    std::set<std::string, WalkOrder> hinted_;
    struct Upload {
        std::string path;
        std::size_t worker;
        bool started = false;  // its first frame is on the pipe
        bool ended = false;    // its last one too: an answer is due
        bool commit = false;   // ended to be kept (not dropped)
    };
    std::map<std::uint32_t, Upload> uploads_;
    std::map<std::uint32_t, UploadFailure> upload_failures_;
    void upload_failed(std::uint32_t id, std::string error);

    // Filled by the workers' reader threads, emptied by receive().
    struct Reply {
        std::size_t worker;
        std::optional<std::string> frame;  // nullopt: the worker is gone
    };
    std::atomic<bool> stopping_{false};
    std::mutex mutex_;
    std::condition_variable arrived_;
    std::deque<Reply> replies_;
};

// What a worker does with its own connection.
struct SmbWorkerSide {
    std::function<std::vector<DirEntry>(const std::string&)> list;
    std::function<std::unique_ptr<Writer>(const std::string&)> create;
};

// The worker's side, run by `exmsync smb-lister`: reads the logon from stdin,
// calls `open` with it, then answers each request with `list` or `create`
// until stdin ends. They throw Error on failure; a failed logon ends the
// worker, a failed listing or file is answered as failed. Returns the exit
// code.
int serve_smb_listings(const std::function<SmbWorkerSide(const SmbListerLogon&)>& open);

}  // namespace exmsync::transport
