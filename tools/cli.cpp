#include "tools/cli.hpp"

#include <iostream>

#include "sync/log.hpp"
#include "sync/report/report.hpp"
#include "transport/transport.hpp"

namespace exmsync::cli {

void Warnings::add(const std::string& code, const std::string& message, const std::string& path) {
    log::warn("{}", message);
    if (kept_.size() < kMaxKept) kept_.push_back(report::warning_json(code, message, path));
    else ++dropped_;
}

nlohmann::json Warnings::json() const {
    nlohmann::json list = kept_;
    if (dropped_ > 0)
        list.push_back(report::warning_json("more", std::to_string(dropped_) + " more warnings were left out"));
    return list;
}

void note(const Output& out, const std::string& text) {
    if (!out.quiet) std::cerr << "note: " << text << '\n';
}

void ScanFlags::add_to(CLI::App& command) {
    command.add_option("--include", include, "Only files matching this glob (repeatable; ** spans folders)");
    command.add_option("--exclude", exclude, "Leave out paths matching this glob (repeatable)");
    command.add_flag("--no-default-excludes", no_default_excludes,
                     "Keep Thumbs.db, desktop.ini, ~$* and *.tmp, which are excluded by default");
    command.add_flag("--no-cache", no_cache, "Hash every file; neither read nor write a stat cache");
    command.add_option("--cache", cache_file, "Stat cache file for the scanned folder (default: one per folder in "
                                              "the user's cache folder, ~/.cache/exmsync)");
}

sync::FilterSpec ScanFlags::filter() const { return {include, exclude, !no_default_excludes}; }

sync::SnapshotOptions ScanFlags::snapshot_options() const {
    sync::SnapshotOptions options;
    options.filter = filter();
    options.filter.filter();  // a bad glob is refused now, before anything is scanned
    options.use_cache = !no_cache;
    if (!cache_file.empty()) options.cache_file = cache_file;
    return options;
}

nlohmann::json json_head(const Output& out, bool ok) {
    return {{"ok", ok}, {"version", report::kJsonVersion}, {"command", out.command}};
}

std::string local_location(const std::string& location) {
    auto local = transport::local_location(location);
    // A scheme with a backend of its own: opening it says whether this build
    // has it, in the words every command uses.
    if (!local) transport::open_transport(location);
    if (!local) throw transport::Error("'" + transport::redact_url(location) + "': this command reads only local "
                                       "folders and manifest files");
    return local->string();
}

}  // namespace exmsync::cli
