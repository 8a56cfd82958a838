// Where the bytes of a changeset's written files come from: the source tree
// (a push to a folder or mounted share), an archive (apply ARCHIVE), or the
// target's own backups (rollback). The apply protocol takes them in the
// operation list's order and checks each against its operation.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "transport/transport.hpp"

namespace exmsync::sync {

// Names of the items a feed hands over.
inline constexpr const char* kFilePrefix = "files/";     // + the path the content is written to
inline constexpr const char* kManifestItem = "manifest";  // the target's manifest after apply

class ContentFeed {
public:
    virtual ~ContentFeed() = default;
    // `size` is the item's size as the feed claims it (for a file, what the
    // changeset says); the content may still disagree, and the taker checks.
    using Take = std::function<void(const std::string& name, std::uint64_t size, transport::Reader& content)>;
    // Calls `take` once per item: one "files/<path>" for every Write
    // operation, in the operation list's order, then one "manifest". Throws
    // when the source fails; an exception from `take` propagates.
    virtual void each(const Take& take) = 0;
    // Called once every item is staged. A feed that reads a live source
    // checks here that nothing it read has changed since, and throws Error
    // ("the source changed during the push; run it again") if it has, so
    // that no target receives a mix the source never held at one time.
    virtual void check_unchanged() {}
};

}  // namespace exmsync::sync
