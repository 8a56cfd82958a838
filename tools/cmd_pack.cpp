// exmsync pack SOURCE --base MANIFEST -o FILE: a changeset archive for one target.
#include <iostream>
#include <memory>

#include "sync/pack.hpp"
#include "sync/report/report.hpp"
#include "tools/cli.hpp"

namespace exmsync::cli {
namespace {

struct PackArgs {
    std::string source;
    std::string base;
    std::string output;
    bool no_delete = false;
    bool allow_unportable = false;
    bool json = false;
    ScanFlags scan;
};

int run_pack(const PackArgs& args, Output& out) {
    out.stdout_is_data = args.output == "-";
    sync::PushOptions options;
    auto scan = args.scan.snapshot_options();
    options.filter = scan.filter;
    options.use_cache = scan.use_cache;
    options.cache_file = scan.cache_file;
    options.plan.deletes = !args.no_delete;
    options.plan.portable = !args.allow_unportable;
    auto report = sync::pack(location(args.source), location(args.base), args.output, options);
    const auto& h = report.header;
    if (!out.json) {
        out.results() << args.output << ": changeset " << h.id() << " for a target at "
                      << h.base_root.hex().substr(0, 16) << ": " << report::counts_text(h.counts, true) << '\n';
        return kOk;
    }
    nlohmann::json result = json_head(out, true);
    result["source"] = args.source;
    result["archive"] = args.output;
    result["changeset"] = h.id();
    result["base_root"] = h.base_root.hex();
    result["new_root"] = h.new_root.hex();
    result["counts"] = report::counts_json(h.counts);
    out.results() << result.dump() << '\n';
    return kOk;
}

}  // namespace

Runner add_pack_command(CLI::App& cmd) {
    auto args = std::make_shared<PackArgs>();
    cmd.add_option("SOURCE", args->source, "The source folder")->required();
    cmd.add_option("--base", args->base, "The target's manifest ('exmsync manifest TARGET -o FILE'), or its folder")
        ->required();
    cmd.add_option("-o,--output", args->output,
                   "The archive to write ('-': standard output, and the summary goes to stderr)")
        ->required();
    cmd.add_flag("--no-delete", args->no_delete, "Keep files that only the target has");
    cmd.add_flag("--allow-unportable-names", args->allow_unportable,
                 "Pack names a Windows or SMB target would refuse or merge (only for Linux targets)");
    cmd.add_flag("--json", args->json, "Describe the changeset as one JSON object");
    args->scan.add_to(cmd);
    return [args](Output& out) { return run_pack(*args, out); };
}

}  // namespace exmsync::cli
