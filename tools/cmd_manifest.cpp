// exmsync manifest PATH: print or write the manifest of a folder.
#include <boost/filesystem/operations.hpp>
#include <fstream>
#include <iostream>
#include <memory>

#include "sync/error.hpp"
#include "sync/report/report.hpp"
#include "tools/cli.hpp"
#include "platform/files.hpp"

namespace exmsync::cli {
namespace fs = boost::filesystem;

namespace {

struct ManifestArgs {
    std::string path;
    std::string output;
    bool json = false;
    bool stats = false;
    ScanFlags scan;
};

// The warnings of a scan, on stderr and for the JSON object.
void scan_warnings(const manifest::ScanResult& scan, Warnings& warnings) {
    for (const auto& w : scan.warnings) warnings.add("skipped", w);
    if (scan.warning_count > scan.warnings.size())
        warnings.add("skipped", std::to_string(scan.warning_count - scan.warnings.size()) + " more entries skipped");
    for (const auto& p : scan.name_problems) warnings.add("unportable-name", p);
    if (scan.name_problem_count > scan.name_problems.size())
        warnings.add("unportable-name",
                     std::to_string(scan.name_problem_count - scan.name_problems.size()) + " more unportable names");
}

// Writes the manifest file to `target` through a temporary beside it, so a
// failed run never leaves a half-written manifest. A device or a pipe there
// (/dev/null, a FIFO) is written in place: there is nothing to swap, and a
// rename onto it would replace it, or fail across file systems.
void write_output(const fs::path& manifest, const std::string& target) {
    fs::path absolute = fs::absolute(target);
    boost::system::error_code status_ec;
    const auto status = fs::status(absolute, status_ec);
    if (!status_ec && fs::exists(status) && !fs::is_regular_file(status) && !fs::is_directory(status)) {
        std::ifstream in(platform::stream_path(manifest.string()), std::ios::binary);
        std::ofstream out(platform::stream_path(absolute.string()), std::ios::binary);
        out << in.rdbuf();
        out.flush();
        if (!in || !out) throw sync::Error("cannot write " + target + "; check that it accepts writing");
        return;
    }
    sync::TempFile temp(absolute.parent_path());
    boost::system::error_code ec;
    fs::copy_file(manifest, temp.path(), ec);
    if (!ec) fs::rename(temp.path(), absolute, ec);
    if (ec) throw sync::Error("cannot write " + target + ": " + ec.message() + "; check that its folder exists and is writable");
}

int run_manifest(const ManifestArgs& args, Output& out) {
    auto snapshot = sync::Snapshot::open(location(args.path), args.scan.snapshot_options());
    Warnings warnings;
    if (snapshot->scan()) scan_warnings(*snapshot->scan(), warnings);
    if (!args.output.empty()) write_output(snapshot->manifest_file(), args.output);
    if (args.stats && snapshot->scan() && !out.json)
        std::cerr << "stats: " << report::stats_line(snapshot->scan()->stats) << '\n';

    if (!out.json) {
        if (args.output.empty()) {
            std::ifstream in(platform::stream_path(snapshot->manifest_file().string()), std::ios::binary);
            std::cout << in.rdbuf();
        }
        return kOk;
    }
    report::JsonWriter json(std::cout);
    nlohmann::json head = json_head(out, true);
    head["source"] = args.path;
    head["format"] = "exmsync-manifest";
    head["format_version"] = manifest::kManifestVersion;
    head["root"] = snapshot->root().hex();
    if (snapshot->scan()) head["stats"] = report::stats_json(snapshot->scan()->stats);
    if (!args.output.empty()) head["output"] = args.output;
    json.begin(head);
    if (args.output.empty()) {
        json.array("entries");
        auto reader = snapshot->reader();
        report::write_entries_json(json, *reader);
        json.end_array();
    }
    json.member("warnings", warnings.json());
    json.end();
    return kOk;
}

}  // namespace

Runner add_manifest_command(CLI::App& cmd) {
    auto args = std::make_shared<ManifestArgs>();
    cmd.add_option("PATH", args->path, "Folder to scan, or a manifest file to check and print")->required();
    cmd.add_option("-o,--output", args->output,
                   "Write the manifest (in its own format) to this file instead of standard output");
    cmd.add_flag("--json", args->json, "One JSON object: the root, the entries (unless -o), warnings");
    cmd.add_flag("--stats", args->stats,
                 "Say on stderr (or in the JSON) how many files were hashed and how many came from the stat cache");
    args->scan.add_to(cmd);
    return [args](Output& out) { return run_manifest(*args, out); };
}

}  // namespace exmsync::cli
