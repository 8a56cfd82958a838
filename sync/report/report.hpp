// Human and JSON renderings of manifests, scans and diffs. Library code
// returns data; these turn it into text for the CLI.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

#include "manifest/diff.hpp"
#include "manifest/format.hpp"
#include "manifest/scanner.hpp"
#include "sync/changeset.hpp"
#include "sync/plan.hpp"
#include "sync/push.hpp"

namespace exmsync::report {

// A path for JSON: the raw path when it is UTF-8, else its manifest escape.
nlohmann::json path_json(const std::string& path);
nlohmann::json entry_json(const manifest::Entry& entry);
nlohmann::json stats_json(const manifest::ScanStats& stats);

// One line: what a scan read and what came from the stat cache.
std::string stats_line(const manifest::ScanStats& stats);

// Streams a manifest as one JSON object, one entry at a time.
void write_manifest_json(std::ostream& out, manifest::EntryStream& entries, const nlohmann::json& extra);

// `git status --short` style: "M  path", "R  old -> new"; directories end in '/'.
void write_diff_short(std::ostream& out, const manifest::DiffResult& diff);
nlohmann::json diff_json(const manifest::DiffResult& diff);

// "wrote 3 files (120 bytes), deleted 1, renamed 0, folders +1 -0", or in
// the conditional ("would write ...") for a dry run.
std::string counts_text(const sync::ChangeCounts& counts, bool dry_run = false);

// One line per operation, in the same short style, each after `indent`.
void write_changeset_short(std::ostream& out, const sync::Changeset& changeset, const std::string& indent);
nlohmann::json changeset_json(const sync::Changeset& changeset);
nlohmann::json push_json(const sync::PushReport& report, bool dry_run);

}  // namespace exmsync::report
