#include "sync/lock.hpp"

#include <mutex>
#include <set>
#include <sstream>

#include "sync/platform.hpp"

namespace exmsync::sync {
namespace {

LockOwner parse_owner(const std::string& text) {
    LockOwner owner;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        auto eq = line.find('=');
        if (eq == std::string::npos) continue;
        std::string key = line.substr(0, eq), value = line.substr(eq + 1);
        if (key == "host") owner.host = value;
        else if (key == "pid") owner.pid = std::atoll(value.c_str());
        else if (key == "since") owner.since = value;
    }
    return owner;
}

// Locks this process holds right now, by target and path: a lock file that
// names this process but is not among them was left by a lock object whose
// release failed (a cut connection), and is as stale as a dead process's.
std::mutex held_mutex;
std::set<std::string> held_here;

bool is_stale(const LockOwner& owner, const std::string& key) {
    if (owner.host != platform::host_name()) return false;
    if (owner.pid != platform::process_id()) return !platform::process_alive(owner.pid);
    std::lock_guard guard(held_mutex);
    return !held_here.count(key);
}

void note_held(const std::string& key, bool held) {
    std::lock_guard guard(held_mutex);
    if (held) held_here.insert(key);
    else held_here.erase(key);
}

// Drafts of locks whose writer died before renaming them, on this host.
void remove_dead_drafts(transport::Transport& target, const StateLayout& state) {
    std::string prefix = "lock." + platform::host_name() + ".";
    for (const auto& child : target.list(state.dir)) {
        const std::string& name = child.name;
        if (name.rfind(prefix, 0) != 0 || name.size() < prefix.size() + 5 || name.substr(name.size() - 4) != ".tmp")
            continue;
        std::int64_t pid = std::atoll(name.c_str() + prefix.size());
        if (!platform::process_alive(pid)) target.remove(state.dir + "/" + name);
    }
}

}  // namespace

std::string LockOwner::text() const {
    return "pid " + std::to_string(pid) + " on " + (host.empty() ? "an unknown host" : host) + " since " +
           (since.empty() ? "an unknown time" : since);
}

TargetLock::TargetLock(transport::Transport& target, const StateLayout& state, bool break_stale)
    : target_(target), path_(state.lock()) {
    make_folders(target, state.dir);
    std::string mine = "host=" + platform::host_name() + "\npid=" + std::to_string(platform::process_id()) +
                       "\nsince=" + platform::utc_now() + "\n";
    // The lock appears complete or not at all: written under a name of its
    // own, then renamed into place (rename never replaces, so it is exclusive).
    std::string draft = path_ + "." + platform::host_name() + "." + std::to_string(platform::process_id()) + ".tmp";
    for (int attempt = 0; attempt < 2; ++attempt) {
        if (exists(target, draft)) target.remove(draft);
        write_new_file(target, draft, mine);
        try {
            target.rename(draft, path_);
            held_ = true;
            note_held(key(), true);
            remove_dead_drafts(target, state);
            return;
        } catch (const transport::AlreadyExists&) {
            target.remove(draft);
        }
        std::string text;
        try {
            text = read_small_file(target, path_);
        } catch (const transport::NotFound&) {
            continue;  // released between our create and read: try once more
        }
        LockOwner owner = parse_owner(text);
        std::string where = target.describe() + "/" + path_;
        if (!is_stale(owner, key()))
            throw LockedError("target " + target.describe() + " is locked by another exmsync (" + owner.text() +
                              "); wait for it to finish, or if that host is gone remove " + where);
        if (!break_stale)
            throw LockedError("target " + target.describe() + " has a stale lock from " + owner.text() +
                              ", which is no longer running; run 'exmsync recover --root " + target.describe() +
                              "' to finish or undo its work and remove the lock");
        target.remove(path_);
        broke_stale_ = true;
        stale_owner_ = owner;
    }
    throw LockedError("target " + target.describe() + ": could not take the lock " + path_ + "; try again");
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
    target_.remove(path_);
}

std::string TargetLock::key() const { return target_.describe() + "\n" + path_; }

}  // namespace exmsync::sync
