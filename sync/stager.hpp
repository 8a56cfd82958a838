// Staging: step 4 of the apply. A changeset's content goes into the state
// folder, on the target's own volume, before anything on the target moves:
//   - each written file into staging/<id>/files/, read from the feed in
//     operation order, its size and hash checked as it is copied; a new
//     folder staged whole (Touch::tree) goes to staging/<id>/trees/<n>/
//     with its folders and files under their own names;
//   - the manifest after apply, checked entry by entry to be exactly the
//     base manifest with the changeset's touches applied, so that the root
//     recorded afterwards is one the target really holds;
//   - the folders of backup/<id>/ that the commit will move old files into
//     (created now, so the commit itself needs no new space for them).
// Files are committed without a flush each, and created with create_staged
// (a backend may write them in the background): the caller's flush_all(),
// once the history records have joined them, makes them durable and reports
// any that failed.
#pragma once

#include <boost/filesystem/path.hpp>
#include <string>

#include "sync/changeset.hpp"
#include "sync/content.hpp"
#include "sync/state.hpp"

namespace exmsync::sync {

struct StageInput {
    const ChangesetHeader& header;
    boost::filesystem::path ops;            // the operation list
    boost::filesystem::path touches;        // its touch list
    boost::filesystem::path base_manifest;  // the target's manifest now
    std::string apply_id;
};

// Throws Error "changeset for T: ...; nothing was changed" when the feed's
// content disagrees with the changeset, or the transport's Error.
void stage(StateFolder& state, const StageInput& input, ContentFeed& feed);

}  // namespace exmsync::sync
