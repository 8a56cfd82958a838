// What a push to several targets does once for all the targets that hold the
// same files: the plan, and for targets that take archives (the agent) the
// archive. A scheduled push mostly finds every target where the last push
// left it, so four targets cost one plan and one packing, not four.
//
// The archive is packed in a thread of its own into a temporary file, and
// each target copies from that file as it grows: none waits for the whole
// archive, none waits for a slower target, and the file holds at most one
// compressed changeset (removed when the push ends).
#pragma once

#include <boost/filesystem/path.hpp>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "manifest/format.hpp"
#include "sync/plan.hpp"
#include "sync/target.hpp"

namespace exmsync::sync {

class SharedArchive;

class SharedWork {
public:
    explicit SharedWork(boost::filesystem::path source_root);
    ~SharedWork();
    SharedWork(const SharedWork&) = delete;
    SharedWork& operator=(const SharedWork&) = delete;

    // What makes two targets' plans the same: the root of the manifest the
    // target holds, and its list of folders that hold entries outside the
    // sync set (`hidden`, as fetch_manifest() wrote it).
    static std::string key(const manifest::Hash128& root, const boost::filesystem::path& hidden);

    // The plan for the targets with `key`: `make` runs for the first to ask;
    // the others wait for it and get the same plan, or the same error.
    std::shared_ptr<Plan> plan(const std::string& key, const std::function<std::unique_ptr<Plan>()>& make);

    // That plan's archive, whose packing the first target to ask starts.
    // Every write() copies it from the start; a write throws what the packing
    // threw (a source file changed during the push, a full disk).
    PackedChangeset packed(const std::string& key, const std::shared_ptr<Plan>& plan);

    // How many archives were packed so far: one per distinct key asked for.
    std::size_t archives() const {
        std::lock_guard lock(mutex_);
        return archives_;
    }

private:
    struct Entry;
    boost::filesystem::path source_root_;
    mutable std::mutex mutex_;
    std::map<std::string, std::shared_ptr<Entry>> entries_;
    std::size_t archives_ = 0;
};

}  // namespace exmsync::sync
