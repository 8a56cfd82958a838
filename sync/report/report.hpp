// Human and JSON renderings of manifests, scans, changesets and results.
// Library code returns data; these turn it into text for the CLI.
//
// One vocabulary everywhere (docs/schema/ describes it): `source`, `target`,
// `root`, `base_root`, `new_root`; `type` is file, directory or symlink;
// `change` is added, removed, modified, type_changed or renamed; a `path` is
// always a string, in the manifest's escape form with "escaped": true when
// the name is not UTF-8. Long lists stream: an array is written item by item,
// never built whole.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

#include "manifest/format.hpp"
#include "manifest/scanner.hpp"
#include "sync/changeset.hpp"

namespace exmsync::report {

using nlohmann::json;

// Version of the JSON output (docs/schema/*.json).
inline constexpr int kJsonVersion = 1;

// {"path": ...} plus "escaped": true when the name is not UTF-8; `key`
// renames the path field ("from" for a rename source).
void add_path(json& object, const std::string& path, const char* key = "path");
json entry_json(const manifest::Entry& entry);
json stats_json(const manifest::ScanStats& stats);
json counts_json(const sync::ChangeCounts& counts);
json warning_json(const std::string& code, const std::string& message, const std::string& path = {});

// One line: what a scan read and what came from the stat cache.
std::string stats_line(const manifest::ScanStats& stats);
// "wrote 3 files (1,234 bytes), deleted 1 file, renamed 0 files, created 1
// folder, removed 0 folders"; in the conditional ("would write ...") for a dry run.
std::string counts_text(const sync::ChangeCounts& counts, bool dry_run = false);
// "1 file", "2 files".
std::string plural(std::uint64_t n, const char* one, const char* many);

// A JSON object written in parts, so arrays inside it can stream:
//   JsonWriter w(out); w.begin(head); w.array("changes"); w.item(...); ...
//   w.end_array(); w.end();
class JsonWriter {
public:
    explicit JsonWriter(std::ostream& out) : out_(out) {}
    // Opens an object holding `head`'s members (further members follow).
    void begin(const json& head);
    void member(const std::string& key, const json& value);
    void array(const std::string& key);
    void item(const json& value);
    void end_array();
    void end();  // closes the innermost open object

private:
    void separator();
    std::ostream& out_;
    std::vector<bool> first_;  // per open object or array: nothing written in it yet
};

// Streams a manifest's entries as JSON items.
void write_entries_json(JsonWriter& out, manifest::EntryStream& entries);

// The changes a changeset makes, in its order: `git status --short` style
// lines ("A  path", "D  dir/", "M  path", "T  path", "R  old -> new"), each
// after `indent`; a removal and a creation at one path are one T line.
void write_changes_text(std::ostream& out, const sync::Changeset& changeset, const std::string& indent = {});
// The same as JSON items: {"change", "type", "path", "from"?, "size"?,
// "hash"?, "before"?}.
void write_changes_json(JsonWriter& out, const sync::Changeset& changeset);

}  // namespace exmsync::report
