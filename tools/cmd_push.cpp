// exmsync push SOURCE TARGET...: make every target equal the source folder.
#include <iostream>
#include <map>
#include <memory>

#include "manifest/escape.hpp"
#include "sync/log.hpp"
#include "sync/push.hpp"
#include "sync/report/report.hpp"
#include "tools/commands.hpp"

namespace exmsync::cli {
namespace {

struct PushArgs {
    std::string source;
    std::vector<std::string> targets;
    bool dry_run = false;
    bool no_delete = false;
    std::uint64_t max_delete = 1000;
    unsigned parallel = 0;
    bool json = false;
    ScanFlags scan;
};

void print_target(const sync::TargetResult& r, bool dry_run) {
    if (!r.ok) {
        std::cout << r.target << ": FAILED: " << r.error << '\n';
        return;
    }
    for (const auto& path : r.drift)
        log::warn("{}: '{}' was changed on the target since the last push; the source's version replaces it "
                  "(the old one is kept in the backup)",
                  r.target, manifest::escape_path(path));
    if (r.already_in_sync) {
        std::cout << r.target << ": in sync\n";
        return;
    }
    std::cout << r.target << ": " << report::counts_text(r.changes, dry_run);
    if (!r.apply_id.empty()) std::cout << " [" << r.apply_id << "]";
    std::cout << '\n';
    if (dry_run) report::write_changeset_short(std::cout, r.changeset, "  ");
}

int run_push(const PushArgs& args) {
    sync::PushOptions options;
    options.scan = args.scan.snapshot_options();
    options.plan.deletes = !args.no_delete;
    options.max_delete = args.max_delete;
    options.dry_run = args.dry_run;
    options.parallel = args.parallel;
    // Targets finish in any order; they are printed in the order given, each
    // as soon as those before it are done.
    std::map<std::size_t, sync::TargetResult> waiting;
    std::size_t next = 0;
    auto report = sync::push(args.source, args.targets, options, [&](std::size_t index, const sync::TargetResult& r) {
        if (args.json) return;
        waiting.emplace(index, r);
        for (auto it = waiting.find(next); it != waiting.end(); it = waiting.find(++next)) {
            print_target(it->second, args.dry_run);
            std::cout.flush();
            waiting.erase(it);
        }
    });
    if (args.json) std::cout << report::push_json(report, args.dry_run).dump(2) << '\n';
    return report.all_ok() ? kOk : kDifferent;
}

}  // namespace

Runner add_push_command(CLI::App& app) {
    auto args = std::make_shared<PushArgs>();
    auto* cmd = app.add_subcommand("push", "Make every TARGET equal SOURCE, each all-or-nothing "
                                           "(exit 0 all in sync, 1 some target failed, 2 error)");
    cmd->add_option("SOURCE", args->source, "The source folder (the primary CM's site or template folder)")->required();
    cmd->add_option("TARGET", args->targets, "Target folders or file:// URLs")->required();
    cmd->add_flag("-n,--dry-run", args->dry_run, "Show what each target would get; change nothing");
    cmd->add_flag("--no-delete", args->no_delete, "Keep files that only the target has");
    cmd->add_option("--max-delete", args->max_delete,
                    "Refuse a target that would lose more files than this (default 1000)");
    cmd->add_option("--parallel", args->parallel, "Targets pushed at once (default: one per core)");
    cmd->add_flag("--json", args->json, "Report every target as JSON");
    args->scan.add_to(*cmd);
    return [args] { return run_push(*args); };
}

}  // namespace exmsync::cli
