// exmsync diff SOURCE TARGET: what a push from SOURCE would do to TARGET, in
// the same words as `push --dry-run`. Either side may be a manifest file.
// Nothing is written into either folder.
#include <future>
#include <iostream>
#include <memory>

#include "manifest/file_system.hpp"
#include "sync/plan.hpp"
#include "sync/report/report.hpp"
#include "tools/cli.hpp"

namespace exmsync::cli {
namespace {

struct DiffArgs {
    std::string source;
    std::string target;
    bool json = false;
    bool no_renames = false;
    bool no_delete = false;
    ScanFlags scan;
    SshFlags ssh;
};

int run_diff(const DiffArgs& args, Output& out) {
    auto options = args.scan.snapshot_options();
    options.target = args.ssh.options();
    if (options.target.verify_full) options.use_cache = false;  // a local folder is hashed whole too
    std::string source_path = location(args.source), target_path = location(args.target);
    sync::TempFile hidden;
    auto target_options = options;
    target_options.hidden_out = hidden.path();
    auto source_options = options;
    source_options.record_symlinks = false;  // a push never sends them
    // Both sides are scanned at once: with warm caches each is a stat walk.
    auto target_side =
        std::async(std::launch::async, [&] { return sync::Snapshot::open(target_path, target_options); });
    std::unique_ptr<sync::Snapshot> source;
    try {
        source = sync::Snapshot::open(source_path, source_options);
    } catch (...) {
        try { target_side.get(); } catch (...) {}
        throw;
    }
    auto target = target_side.get();

    Warnings warnings;
    if (source->scan()) {
        const auto& scan = *source->scan();
        for (const auto& w : scan.warnings) warnings.add("skipped", args.source + ": " + w);
        for (const auto& p : scan.name_problems)
            warnings.add("unportable-name", args.source + ": " + p + " (a push refuses this name)");
    }
    sync::PlanInput input{target->manifest_file(), source->manifest_file(),
                          target->scan() ? std::optional(hidden.path()) : std::nullopt,
                          [&](const std::string& path) -> std::int64_t {
                              // Only a local folder's mtimes: they do not show in a diff.
                              if (!source->scan() || !transport::local_location(source_path)) return 0;
                              return manifest::stat_path(boost::filesystem::path(source_path) / path).mtime_ns;
                          },
                          options.filter};
    sync::PlanOptions plan_options;
    plan_options.deletes = !args.no_delete;
    plan_options.portable = false;  // reported above as warnings, not refused
    plan_options.detect_renames = !args.no_renames;
    auto plan = sync::make_plan(input, plan_options);
    for (const auto& folder : plan->kept)
        warnings.add("kept", args.target + ": '" + folder + "' is kept: it holds files outside the sync set", folder);
    sync::Changeset changeset{plan->header, plan->ops.path()};
    bool same = plan->header.empty();

    if (!out.json) {
        report::write_changes_text(std::cout, changeset);
        return same ? kOk : kDifferent;
    }
    report::JsonWriter json(std::cout);
    nlohmann::json head = json_head(out, true);
    head["source"] = args.source;
    head["target"] = args.target;
    head["same"] = same;
    head["base_root"] = plan->header.base_root.hex();
    head["new_root"] = plan->header.new_root.hex();
    head["counts"] = report::counts_json(plan->header.counts);
    json.begin(head);
    json.array("changes");
    report::write_changes_json(json, changeset);
    json.end_array();
    json.member("warnings", warnings.json());
    json.end();
    return same ? kOk : kDifferent;
}

}  // namespace

Runner add_diff_command(CLI::App& cmd) {
    auto args = std::make_shared<DiffArgs>();
    cmd.add_option("SOURCE", args->source, "The source: a folder or a manifest file")->required();
    cmd.add_option("TARGET", args->target, "The target: a folder or a manifest file")->required();
    cmd.add_flag("--json", args->json, "One JSON object listing every change, as push --dry-run --json does");
    cmd.add_flag("--no-renames", args->no_renames, "Report a moved file as removed and added");
    cmd.add_flag("--no-delete", args->no_delete, "As push --no-delete: files only the target has stay");
    args->scan.add_to(cmd);
    args->ssh.add_to(cmd);
    args->ssh.add_verify_to(cmd);
    return [args](Output& out) { return run_diff(*args, out); };
}

}  // namespace exmsync::cli
