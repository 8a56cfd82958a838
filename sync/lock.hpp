// The target lock: one apply at a time per target. Taken by creating the lock
// file exclusively; it records host, pid and time so that a refusal can say
// who holds it, and a lock whose process is gone (on this host) can be told
// apart from a live one. A stale lock is only broken by `exmsync recover`.
#pragma once

#include <cstdint>
#include <string>

#include "sync/error.hpp"
#include "sync/state.hpp"
#include "transport/transport.hpp"

namespace exmsync::sync {

// Another apply holds the lock, or a stale lock is in the way.
class LockedError : public Error {
public:
    using Error::Error;
};

struct LockOwner {
    std::string host;
    std::int64_t pid = 0;
    std::string since;
    std::string text() const;
};

class TargetLock {
public:
    // Takes the lock. A held or stale lock throws LockedError naming its
    // owner; with `break_stale`, a stale one (its process gone from this
    // host) is removed and taken over instead.
    TargetLock(transport::Transport& target, const StateLayout& state, bool break_stale = false);
    ~TargetLock();
    TargetLock(const TargetLock&) = delete;
    TargetLock& operator=(const TargetLock&) = delete;

    void release();
    bool broke_stale_lock() const { return broke_stale_; }
    const LockOwner& stale_owner() const { return stale_owner_; }

private:
    std::string key() const;

    transport::Transport& target_;
    std::string path_;
    bool held_ = false;
    bool broke_stale_ = false;
    LockOwner stale_owner_;
};

}  // namespace exmsync::sync
