// Where the bytes of a changeset's written files come from: the source tree
// (a push to a folder or mounted share), an archive (apply ARCHIVE), or the
// target's own backups (rollback). The apply protocol takes them in whatever
// order the feed gives and checks each against the changeset.
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
    // Calls `take` once per item, in the feed's order: one "files/<path>" for
    // every Write op and one "manifest". Throws when the source fails; an
    // exception from `take` propagates.
    virtual void each(const Take& take) = 0;
};

}  // namespace exmsync::sync
