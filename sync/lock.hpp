// The target lock: one apply at a time per target. Taken by creating the lock
// file exclusively (never by a rename, which some backends let replace), and
// flushed before anything relies on it. It records host, pid, the process's
// start time and the time, so that a refusal can say who holds it, and a lock
// whose process is gone from this host (or whose pid now belongs to another
// process) can be told apart from a live one. A stale lock is broken by push,
// apply and recover alike, each of which then finishes or undoes the dead
// run's work first: a scheduled push must not wait for an operator after a
// crash. A lock from another host is never judged from here.
#pragma once

#include <cstdint>
#include <string>

#include "sync/error.hpp"
#include "sync/state.hpp"

namespace exmsync::sync {

// Another apply holds the lock, or a stale lock is in the way.
class LockedError : public Error {
public:
    using Error::Error;
    const char* code() const override { return "locked"; }
};

struct LockOwner {
    std::string host;
    std::int64_t pid = 0;
    std::string started;  // the process's start time, as platform gives it
    std::string since;
    std::string text() const;
    // Nothing in the lock file names its owner yet.
    bool empty() const { return host.empty() && pid == 0; }
};

class TargetLock {
public:
    // Takes the lock. A held or stale lock throws LockedError naming its
    // owner; with `break_stale`, a stale one is removed and taken over.
    TargetLock(StateFolder& state, bool break_stale = false);
    ~TargetLock();
    TargetLock(const TargetLock&) = delete;
    TargetLock& operator=(const TargetLock&) = delete;

    void release();
    // Leaves the lock file in place, as a stale lock of this process: the
    // target stays locked until `exmsync recover` (a commit that could be
    // neither finished nor undone).
    void abandon();
    bool held() const { return held_; }
    bool broke_stale_lock() const { return broke_stale_; }
    const LockOwner& stale_owner() const { return stale_owner_; }

private:
    std::string key() const;

    StateFolder& state_;
    bool held_ = false;
    bool broke_stale_ = false;
    LockOwner stale_owner_;
};

}  // namespace exmsync::sync
