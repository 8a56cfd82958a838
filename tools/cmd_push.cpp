// exmsync push SOURCE TARGET...: make every target equal the source folder.
#include <iostream>
#include <map>
#include <memory>

#include "manifest/escape.hpp"
#include "sync/log.hpp"
#include "sync/push.hpp"
#include "sync/report/report.hpp"
#include "tools/cli.hpp"

namespace exmsync::cli {
namespace {

struct PushArgs {
    std::string source;
    std::vector<std::string> targets;
    bool dry_run = false;
    bool no_delete = false;
    bool allow_unportable = false;
    std::uint64_t max_delete = 1000;
    unsigned parallel = 0;
    bool json = false;
    ScanFlags scan;
    SshFlags ssh;
};

// Per target: "updated", "in_sync", "would_update" or "failed".
const char* status_of(const sync::TargetResult& r, bool dry_run) {
    if (!r.ok) return "failed";
    if (r.already_in_sync) return "in_sync";
    return dry_run ? "would_update" : "updated";
}

std::string drift_message(const sync::TargetResult& r, const sync::DriftItem& d) {
    std::string what = !d.recorded ? "was added on the target by hand since the last push; a push removes it unless "
                                     "the source has it (it is kept in the backup)"
                                   : "was changed on the target since the last push; the source's version replaces "
                                     "it (the old one is kept in the backup)";
    return r.target + ": '" + manifest::escape_path(d.path) + "' " + what;
}

void report_target_text(const Output& out, const sync::TargetResult& r, bool dry_run, Warnings& warnings) {
    for (const auto& n : r.notes) note(out, r.target + ": " + n);
    for (const auto& d : r.drift) warnings.add("drift", drift_message(r, d), d.path);
    if (r.drift_count > r.drift.size())
        warnings.add("drift", r.target + ": and " + std::to_string(r.drift_count - r.drift.size()) +
                                  " more paths changed by hand");
    if (!r.ok) {
        log::error("{}: FAILED: {}", r.target, r.error);
        return;
    }
    if (r.already_in_sync) {
        std::cout << r.target << ": in sync\n";
        return;
    }
    std::cout << r.target << ": " << report::counts_text(r.changes, dry_run);
    if (!r.apply_id.empty()) std::cout << " [" << r.apply_id << "]";
    std::cout << '\n';
    if (dry_run && r.plan) report::write_changes_text(std::cout, {r.plan->header, r.plan->ops.path()}, "  ");
}

nlohmann::json target_head(const sync::TargetResult& r, bool dry_run) {
    nlohmann::json j = {{"target", r.target}, {"ok", r.ok}, {"status", status_of(r, dry_run)}};
    if (!r.ok) j["error"] = {{"code", r.error_code}, {"message", r.error}};
    if (r.plan) {
        j["base_root"] = r.plan->header.base_root.hex();
        j["new_root"] = r.plan->header.new_root.hex();
        j["counts"] = report::counts_json(r.changes);
    }
    if (!r.apply_id.empty()) j["apply_id"] = r.apply_id;
    if (!r.mode.empty()) j["mode"] = r.mode;
    if (r.mode == "agent") {
        j["bytes_sent"] = r.traffic.sent;
        j["bytes_received"] = r.traffic.received;
    }
    nlohmann::json drift = nlohmann::json::array();
    for (const auto& d : r.drift) {
        nlohmann::json item = nlohmann::json::object();
        report::add_path(item, d.path);
        if (d.recorded) item["before"] = {{"type", manifest::type_name(d.recorded->type)},
                                          {"size", d.recorded->size}, {"hash", d.recorded->hash.hex()}};
        drift.push_back(item);
    }
    j["drift"] = drift;
    j["drift_count"] = r.drift_count;
    j["notes"] = r.notes;
    return j;
}

std::string summary_line(const sync::PushReport& report, bool dry_run) {
    std::size_t updated = 0, in_sync = 0, failed = 0;
    for (const auto& t : report.targets) {
        if (!t.ok) ++failed;
        else if (t.already_in_sync) ++in_sync;
        else ++updated;
    }
    return report::plural(report.targets.size(), "target", "targets") + ": " + std::to_string(updated) +
           (dry_run ? " would be updated" : " updated") + ", " + std::to_string(in_sync) + " already in sync, " +
           std::to_string(failed) + " failed";
}

int run_push(const PushArgs& args, Output& out) {
    sync::PushOptions options;
    auto scan = args.scan.snapshot_options();
    options.filter = scan.filter;
    options.use_cache = scan.use_cache;
    options.cache_file = scan.cache_file;
    options.plan.deletes = !args.no_delete;
    options.plan.portable = !args.allow_unportable;
    options.max_delete = args.max_delete;
    options.dry_run = args.dry_run;
    options.parallel = args.parallel;
    options.target = args.ssh.options();
    Warnings warnings;
    // Targets finish in any order; they are printed in the order given, each
    // as soon as those before it are done.
    std::map<std::size_t, sync::TargetResult> waiting;
    std::size_t next = 0;
    auto report = sync::push(args.source, args.targets, options, [&](std::size_t index, const sync::TargetResult& r) {
        if (out.json) return;
        waiting.emplace(index, r);
        for (auto it = waiting.find(next); it != waiting.end(); it = waiting.find(++next)) {
            report_target_text(out, it->second, args.dry_run, warnings);
            std::cout.flush();
            waiting.erase(it);
        }
    });
    for (const auto& w : report.source_scan.warnings) warnings.add("skipped", args.source + ": " + w);

    if (!out.json) {
        std::cout << summary_line(report, args.dry_run) << '\n';
        return report.all_ok() ? kOk : kDifferent;
    }
    report::JsonWriter json(std::cout);
    nlohmann::json head = json_head(out, report.all_ok());
    head["dry_run"] = args.dry_run;
    head["source"] = args.source;
    head["source_root"] = report.source_scan.root.hex();
    head["source_stats"] = report::stats_json(report.source_scan.stats);
    json.begin(head);
    json.array("targets");
    for (const auto& r : report.targets) {
        for (const auto& d : r.drift) warnings.add("drift", drift_message(r, d), d.path);
        json.begin(target_head(r, args.dry_run));
        if (args.dry_run && r.plan) {
            json.array("changes");
            report::write_changes_json(json, {r.plan->header, r.plan->ops.path()});
            json.end_array();
        }
        json.end();
    }
    json.end_array();
    json.member("summary", summary_line(report, args.dry_run));
    json.member("warnings", warnings.json());
    json.end();
    return report.all_ok() ? kOk : kDifferent;
}

}  // namespace

Runner add_push_command(CLI::App& cmd) {
    auto args = std::make_shared<PushArgs>();
    cmd.add_option("SOURCE", args->source, "The source folder (the primary CM's site or template folder)")->required();
    cmd.add_option("TARGET", args->targets, "Target folders, file:// or ssh:// URLs")->required();
    cmd.add_flag("-n,--dry-run", args->dry_run,
                 "Show what each target would get (as 'exmsync diff' does); change nothing, take no lock");
    cmd.add_flag("--no-delete", args->no_delete, "Keep files that only the target has");
    cmd.add_option("--max-delete", args->max_delete,
                   "Refuse a target that would lose more files than this (default 1000)");
    cmd.add_option("--parallel", args->parallel, "Targets pushed at once (default: one per core, at least 8 when a target is ssh:// or smb://)");
    cmd.add_flag("--allow-unportable-names", args->allow_unportable,
                 "Push names a Windows or SMB target would refuse or merge (only for Linux targets)");
    cmd.add_flag("--json", args->json, "One JSON object: every target's result, and a summary");
    args->scan.add_to(cmd);
    args->ssh.add_to(cmd);
    args->ssh.add_verify_to(cmd);
    return [args](Output& out) { return run_push(*args, out); };
}

}  // namespace exmsync::cli
