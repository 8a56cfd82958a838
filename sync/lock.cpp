#include "sync/lock.hpp"

#include <chrono>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "platform/process.hpp"

namespace exmsync::sync {
namespace {

// A lock file with no owner in it was cut while being written (the owner
// goes in right after the exclusive create). A live run finishes writing it
// in far less than this, even over a slow link; once it is this old, its
// writer is surely gone.
constexpr std::int64_t kEmptyLockStaleNs = 5'000'000'000;
// How long a run that finds the lock empty or half-written waits, on its
// own clock, for the owner to be written whole; and how often it looks.
constexpr auto kOwnerWait = std::chrono::seconds(2);
constexpr auto kOwnerLookPause = std::chrono::milliseconds(20);

LockOwner parse_owner(const std::string& text) {
    LockOwner owner;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        auto eq = line.find('=');
        if (eq == std::string::npos) continue;
        std::string key = line.substr(0, eq), value = line.substr(eq + 1);
        if (key == "host") owner.host = value;
        else if (key == "pid") owner.pid = std::atoll(value.c_str());
        else if (key == "started") owner.started = value;
        else if (key == "since") owner.since = value;
    }
    return owner;
}

// Locks this process holds right now, by target: a lock file that names this
// process but is not among them was left by a lock whose release failed (a
// cut connection) or that was abandoned, and is as stale as a dead process's.
std::mutex held_mutex;
std::set<std::string> held_here;

bool held_by_this_process(const std::string& key) {
    std::lock_guard guard(held_mutex);
    return held_here.count(key) > 0;
}

void note_held(const std::string& key, bool held) {
    std::lock_guard guard(held_mutex);
    if (held) held_here.insert(key);
    else held_here.erase(key);
}

bool is_stale(const LockOwner& owner, const std::string& key, std::int64_t age_ns) {
    if (owner.empty()) return age_ns > kEmptyLockStaleNs;
    if (owner.host != platform::host_name()) return false;
    if (owner.pid == platform::process_id()) return !held_by_this_process(key);
    if (!platform::process_alive(owner.pid)) return true;
    // The pid is in use: stale only if it now belongs to a later process.
    std::string started = platform::process_start_time(owner.pid);
    return !owner.started.empty() && !started.empty() && started != owner.started;
}

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

std::string LockOwner::text() const {
    if (empty()) return "a run that died while taking the lock";
    return "pid " + std::to_string(pid) + " on " + (host.empty() ? "an unknown host" : host) + " since " +
           (since.empty() ? "an unknown time" : since);
}

TargetLock::TargetLock(StateFolder& state, bool break_stale) : state_(state) {
    auto& t = state.transport();
    state.make_folders(layout::kDir);
    std::string mine = "host=" + platform::host_name() + "\npid=" + std::to_string(platform::process_id()) +
                       "\nstarted=" + platform::process_start_time(platform::process_id()) +
                       "\nsince=" + platform::utc_now() + "\n";  // last: a reader waits for it
    std::string where = state.describe() + "/" + layout::kLock;
    for (int attempt = 0; attempt < 2; ++attempt) {
        try {
            auto writer = t.create(layout::kLock);
            held_ = true;
            note_held(key(), true);
            writer->write(mine.data(), mine.size());
            writer->commit(transport::Flush::Now);
            t.flush_dir(layout::kDir);
            return;
        } catch (const transport::AlreadyExists&) {
        } catch (...) {
            release();  // half-taken: never leave a lock this run cannot finish writing
            throw;
        }
        LockOwner owner;
        std::int64_t age = 0;
        try {
            // The owner goes in right after the exclusive create, so a live
            // run's lock can be read empty, or without its last line, for a
            // moment: give it that moment, timed here and not by the lock's
            // mtime (a server's clock may be behind), before judging it.
            const auto give_up = std::chrono::steady_clock::now() + kOwnerWait;
            while (true) {
                owner = parse_owner(state.read_small(layout::kLock));
                if (!owner.since.empty() || std::chrono::steady_clock::now() >= give_up) break;
                std::this_thread::sleep_for(kOwnerLookPause);
            }
            auto st = t.stat(layout::kLock);
            if (!st) continue;  // released after our read: try once more
            age = now_ns() - st->mtime_ns;
        } catch (const transport::NotFound&) {
            continue;  // released between our create and read: try once more
        }
        if (owner.pid == platform::process_id() && owner.host == platform::host_name() && held_by_this_process(key()))
            throw LockedError("target " + state.describe() + " is already being applied by this run (is it listed " +
                              "twice, or under two names?)");
        if (!is_stale(owner, key(), age))
            throw LockedError("target " + state.describe() + " is locked by another exmsync (" +
                              (owner.empty() ? "a run that is still taking the lock, or died while taking it"
                                             : owner.text()) +
                              "); wait for it to finish, or if that host is gone remove " + where);
        if (!break_stale)
            throw LockedError("target " + state.describe() + " has a stale lock from " + owner.text() +
                              ", which is no longer running; run 'exmsync recover " + state.describe() +
                              "' to finish or undo its work and remove the lock");
        t.remove(layout::kLock);
        broke_stale_ = true;
        stale_owner_ = owner;
    }
    throw LockedError("target " + state.describe() + ": could not take the lock " + where + "; try again");
}

TargetLock::~TargetLock() {
    try {
        release();
    } catch (...) {
        // A lock left behind is reported as stale by the next run.
    }
}

void TargetLock::release() {
    if (!held_) return;
    held_ = false;
    note_held(key(), false);
    state_.transport().remove(layout::kLock);
}

void TargetLock::abandon() {
    if (!held_) return;
    held_ = false;
    note_held(key(), false);
}

std::string TargetLock::key() const { return state_.describe(); }

}  // namespace exmsync::sync
