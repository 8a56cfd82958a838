// exmsync manifest PATH: print or write the manifest of a folder.
#include <boost/filesystem/operations.hpp>
#include <fstream>
#include <iostream>
#include <memory>

#include "sync/error.hpp"
#include "sync/report/report.hpp"
#include "tools/commands.hpp"

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

void copy_file_to(const fs::path& file, std::ostream& out) {
    std::ifstream in(file.string(), std::ios::binary);
    out << in.rdbuf();
}

int run_manifest(const ManifestArgs& args) {
    auto snapshot = sync::Snapshot::open(args.path, args.scan.snapshot_options());
    if (snapshot->scan()) print_warnings(snapshot->scan()->warnings, args.path);

    // Output goes to a temporary file beside the target and is renamed into
    // place, so a failed run never leaves a half-written manifest.
    std::unique_ptr<sync::TempFile> temp;
    std::ofstream file_out;
    std::ostream* out = &std::cout;
    if (!args.output.empty()) {
        fs::path target = fs::absolute(args.output);
        temp = std::make_unique<sync::TempFile>(target.parent_path());
        file_out.open(temp->path().string(), std::ios::binary);
        if (!file_out) throw sync::Error("cannot write " + args.output + ": check that its folder exists and is writable");
        out = &file_out;
    }
    if (args.json) {
        nlohmann::json extra = nlohmann::json::object();
        if (args.stats && snapshot->scan()) extra["stats"] = report::stats_json(snapshot->scan()->stats);
        auto reader = snapshot->reader();
        report::write_manifest_json(*out, *reader, extra);
    } else {
        copy_file_to(snapshot->manifest_file(), *out);
    }
    out->flush();
    if (!*out) throw sync::Error("cannot write " + (args.output.empty() ? "standard output" : args.output));
    if (temp) {
        file_out.close();
        fs::rename(temp->path(), args.output);
    }
    if (args.stats && snapshot->scan() && !args.json) std::cerr << "stats: " << report::stats_line(snapshot->scan()->stats) << '\n';
    return kOk;
}

}  // namespace

Runner add_manifest_command(CLI::App& app) {
    auto args = std::make_shared<ManifestArgs>();
    auto* cmd = app.add_subcommand("manifest", "Scan a folder (or read a manifest file) and print its manifest");
    cmd->add_option("PATH", args->path, "Folder to scan, or a manifest file to check and print")->required();
    cmd->add_option("-o,--output", args->output, "Write the manifest to this file instead of standard output");
    cmd->add_flag("--json", args->json, "JSON instead of the manifest format");
    cmd->add_flag("--stats", args->stats,
                  "Say on stderr (or in the JSON) how many files were hashed and how many came from the stat cache");
    args->scan.add_to(*cmd);
    return [args] { return run_manifest(*args); };
}

}  // namespace exmsync::cli
