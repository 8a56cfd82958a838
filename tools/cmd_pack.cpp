// exmsync pack SOURCE --base MANIFEST -o FILE: a changeset archive for one target.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "sync/pack.hpp"
#include "sync/report/report.hpp"
#include "tools/commands.hpp"

namespace exmsync::cli {
namespace {

struct PackArgs {
    std::string source;
    std::string base;
    std::string output;
    bool no_delete = false;
    bool json = false;
    ScanFlags scan;
};

int run_pack(const PackArgs& args) {
    sync::PackOptions options;
    options.scan = args.scan.snapshot_options();
    options.plan.deletes = !args.no_delete;
    auto report = sync::pack(args.source, args.base, args.output, options);
    auto c = sync::count_changes(report.changeset);
    if (args.json) {
        std::cout << nlohmann::json{{"archive", args.output}, {"changeset", report.changeset.id()},
                                    {"base_root", report.changeset.base_root.hex()},
                                    {"new_root", report.changeset.new_root.hex()}, {"writes", c.writes},
                                    {"bytes", c.bytes}, {"deletes", c.deletes}, {"renames", c.renames}}
                         .dump(2)
                  << '\n';
        return kOk;
    }
    std::cout << args.output << ": changeset " << report.changeset.id() << " for the target: "
              << report::counts_text(c, true) << '\n';
    return kOk;
}

}  // namespace

Runner add_pack_command(CLI::App& app) {
    auto args = std::make_shared<PackArgs>();
    auto* cmd = app.add_subcommand("pack", "Write the changeset archive that brings a target holding MANIFEST up "
                                           "to date with SOURCE (apply it there with 'exmsync apply')");
    cmd->add_option("SOURCE", args->source, "The source folder")->required();
    cmd->add_option("--base", args->base, "The target's manifest ('exmsync manifest TARGET -o FILE')")->required();
    cmd->add_option("-o,--output", args->output, "The archive to write")->required();
    cmd->add_flag("--no-delete", args->no_delete, "Keep files that only the target has");
    cmd->add_flag("--json", args->json, "Describe the changeset as JSON");
    args->scan.add_to(*cmd);
    return [args] { return run_pack(*args); };
}

}  // namespace exmsync::cli
