// Lists many folders of an SFTP server at once, for a scan of the whole tree.
//
// libssh's sftp_opendir, sftp_readdir and sftp_closedir each wait for their
// reply, so a folder costs about 4 round trips one after another: 4,000 for
// the 10,000-file template tree, which at 30 ms each is two minutes before a
// no-op can say "in sync". This lister speaks SFTP version 3 itself on a
// channel of its own (the "sftp" subsystem, in the same SSH session) and keeps
// the requests of many folders in flight: a walk then costs about its depth in
// round trips. Only listing is done here; everything else stays with libssh.
//
// The folders come as hints from the walk (want()), and the subfolders of
// every folder fetched are guessed too: a walk that waits for each folder
// before it names its subfolders would keep few requests in flight, and each
// reply would cost a write of its own. Everything is fetched in walk order
// (depth first, siblings by name) within fixed bounds: kInFlight folders
// being fetched or waiting to be taken, kHinted names remembered. take()
// waits for one folder and drops what lies before it in walk order, which a
// walk never asks for again (a guess inside a folder it left out). Nothing
// fetched is trusted after the target changed: forget() drops it all.
// Not thread-safe, like the SFTP session beside it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "transport/path.hpp"
#include "transport/ssh_session.hpp"
#include "transport/transport.hpp"

namespace exmsync::transport {

class SftpLister {
public:
    // A folder's listing, or why there is none: `status` is the server's SFTP
    // status code (0: listed) and `message` its text.
    struct Listing {
        std::uint32_t status = 0;
        std::string message;
        std::vector<DirEntry> entries;  // without "." and "..", unsorted
    };

    // Opens the channel and agrees on version 3. Throws Error when the server
    // refuses (the caller then lists the slow way).
    SftpLister(SshSession& session, int timeout_ms);
    ~SftpLister();

    // These folders (full paths on the server) will be listed soon.
    void want(const std::vector<std::string>& folders);
    // Whether `folder` is being fetched or hinted: take() has it.
    bool has(const std::string& folder) const;
    // The listing of `folder`, waiting for it. Throws Error when the
    // connection fails or the server breaks the protocol; the lister is then
    // of no further use (broken()).
    Listing take(const std::string& folder);
    // The target changed: nothing fetched or hinted so far is used.
    void forget();
    bool broken() const { return broken_; }

    static constexpr std::size_t kInFlight = 64;
    static constexpr std::size_t kHinted = 4096;
    // Requests are written when this many are queued, or when fewer than
    // this many are still unanswered.
    static constexpr std::size_t kBatch = 16;

private:
    struct Folder;

    void start(const std::string& folder);
    void fill();
    void flush();
    void receive();
    void handle(std::uint8_t type, std::uint32_t id, const std::string& body);
    // Closes the folder's handle, if it has one, and finishes it.
    void end(Folder& folder, std::uint32_t status, std::string message);
    void finish(Folder& folder, std::uint32_t status, std::string message);
    using Folders = std::map<std::string, std::unique_ptr<Folder>, WalkOrder>;
    Folders::iterator drop(Folders::iterator it);
    void send(std::uint8_t type, std::uint32_t id, const std::string& text);
    [[noreturn]] void fail(const std::string& problem);

    SshSession& session_;
    int timeout_ms_;
    std::unique_ptr<SshChannel> channel_;
    std::uint32_t next_id_ = 1;
    std::string out_, in_;
    std::size_t queued_ = 0;    // requests in out_
    std::size_t awaiting_ = 0;  // requests written and not yet answered
    // Folders being fetched or fetched, by path; requests in flight by id
    // (a CLOSE, whose reply is not waited for, has no folder).
    Folders folders_;
    std::map<std::uint32_t, Folder*> requests_;
    std::set<std::string, WalkOrder> hinted_;
    // Folders dropped by forget() while their requests were in flight.
    std::vector<std::unique_ptr<Folder>> dropped_;
    bool broken_ = false;
};

}  // namespace exmsync::transport
