// The pre-flight: after staging and before anything moves, every precondition
// of the commit that can be checked is checked, and the journal is written
// from the same walk over the touch list:
//   - every path the commit removes or replaces is still as scanned, on the
//     state folder's volume, and movable (not immutable or append-only, its
//     folder writable);
//   - every path it creates is still free, in a folder that can take it;
//   - every folder it removes holds nothing the changeset leaves behind;
//   - no path crosses a mount point (a rename across volumes cannot be
//     atomic), and the volume has room for the folders the commit creates.
// A failed pre-flight is a clean refusal: nothing has moved yet. What no
// check can foresee is left to the commit's undo.
#pragma once

#include <boost/filesystem/path.hpp>
#include <string>

#include "sync/changeset.hpp"
#include "sync/error.hpp"
#include "sync/state.hpp"

namespace exmsync::sync {

class PreflightError : public Error {
public:
    using Error::Error;
    const char* code() const override { return "refused"; }
};

// Checks the commit of `touches` (the touch list) and writes its journal to
// the local file `journal`. Throws PreflightError naming up to a few paths,
// each with the reason and what to do.
void preflight(StateFolder& state, const std::string& apply_id, const ChangesetHeader& header,
               const boost::filesystem::path& touches, const boost::filesystem::path& journal);

}  // namespace exmsync::sync
