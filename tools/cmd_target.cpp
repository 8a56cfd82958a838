// Target-side commands: apply, recover, history, rollback.
#include <iostream>
#include <memory>

#include "sync/apply.hpp"
#include "sync/archive.hpp"
#include "sync/report/report.hpp"
#include "sync/rollback.hpp"
#include "tools/commands.hpp"
#include "transport/transport.hpp"

namespace exmsync::cli {
namespace {

struct TargetArgs {
    std::string root;
    std::string archive;
    std::string to;
    bool break_lock = false;
    bool dry_run = false;
    bool json = false;
    ScanFlags scan;
};

void print_counts(const std::string& root, const sync::ChangeCounts& c, const std::string& id) {
    std::cout << root << ": " << report::counts_text(c) << " [" << id << "]\n";
}

int run_apply(const TargetArgs& args) {
    sync::ArchiveReader archive(args.archive);
    auto target = transport::open_transport(args.root);
    sync::ApplyOptions options;
    options.kind = "apply";
    auto report = sync::apply_changeset(*target, archive.changeset(), archive, options);
    if (args.json) {
        std::cout << nlohmann::json{{"root", args.root},
                                    {"apply_id", report.apply_id},
                                    {"recovered_first", report.recovered_first},
                                    {"writes", report.changes.writes},
                                    {"deletes", report.changes.deletes},
                                    {"renames", report.changes.renames}}
                         .dump(2)
                  << '\n';
    } else if (report.apply_id.empty()) {
        std::cout << args.root << ": nothing to apply\n";
    } else {
        print_counts(args.root, report.changes, report.apply_id);
    }
    return kOk;
}

int run_recover(const TargetArgs& args) {
    auto target = transport::open_transport(args.root);
    auto report = sync::recover(*target, sync::StateLayout{}, true);
    if (args.json) {
        std::cout << nlohmann::json{{"root", args.root},
                                    {"broke_stale_lock", report.broke_stale_lock},
                                    {"finished_apply", report.finished_apply},
                                    {"staging_removed", report.staging_removed}}
                         .dump(2)
                  << '\n';
        return kOk;
    }
    if (report.broke_stale_lock) std::cout << args.root << ": removed a stale lock\n";
    if (!report.finished_apply.empty()) std::cout << args.root << ": finished interrupted apply " << report.finished_apply << '\n';
    if (report.staging_removed) std::cout << args.root << ": cleared " << report.staging_removed << " abandoned staging folder(s)\n";
    if (!report.broke_stale_lock && report.finished_apply.empty() && !report.staging_removed)
        std::cout << args.root << ": nothing to recover\n";
    return kOk;
}

int run_history(const TargetArgs& args) {
    auto target = transport::open_transport(args.root);
    sync::StateLayout state;
    auto history = sync::read_history(*target, state);
    auto current = sync::current_apply(*target, state);
    if (args.json) {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& r : history) {
            auto c = sync::count_changes(r.changeset);
            list.push_back({{"apply_id", r.apply_id}, {"kind", r.kind}, {"applied_at", r.applied_at},
                            {"host", r.host}, {"new_root", r.changeset.new_root.hex()},
                            {"current", current && *current == r.apply_id},
                            {"rollback_possible", sync::exists(*target, state.manifest(r.apply_id))},
                            {"writes", c.writes}, {"deletes", c.deletes}, {"renames", c.renames}});
        }
        std::cout << list.dump(2) << '\n';
        return kOk;
    }
    for (const auto& r : history) {
        auto c = sync::count_changes(r.changeset);
        bool is_current = current && *current == r.apply_id;
        std::cout << (is_current ? "* " : "  ") << r.apply_id << "  " << r.applied_at << "  " << r.kind << "  +"
                  << c.writes << " -" << c.deletes << " ~" << c.renames
                  << (sync::exists(*target, state.manifest(r.apply_id)) ? "" : "  (pruned)") << '\n';
    }
    if (history.empty()) std::cout << args.root << ": no changesets applied yet\n";
    return kOk;
}

int run_rollback(const TargetArgs& args) {
    sync::RollbackOptions options;
    options.scan = args.scan.snapshot_options();
    options.dry_run = args.dry_run;
    auto report = sync::rollback(args.root, args.to, options);
    if (args.json) {
        auto c = sync::count_changes(report.changeset);
        std::cout << nlohmann::json{{"root", args.root}, {"to", report.to_apply}, {"dry_run", args.dry_run},
                                    {"apply_id", report.applied.apply_id}, {"writes", c.writes},
                                    {"deletes", c.deletes}, {"renames", c.renames},
                                    {"changeset", report::changeset_json(report.changeset)}}
                         .dump(2)
                  << '\n';
        return kOk;
    }
    if (report.changeset.empty()) {
        std::cout << args.root << ": already as after " << report.to_apply << '\n';
    } else if (args.dry_run) {
        std::cout << args.root << ": rolling back to " << report.to_apply << " would:\n";
        report::write_changeset_short(std::cout, report.changeset, "  ");
    } else {
        print_counts(args.root, report.applied.changes, report.applied.apply_id);
    }
    return kOk;
}

CLI::App* target_command(CLI::App& app, const char* name, const char* help, TargetArgs& args) {
    auto* cmd = app.add_subcommand(name, help);
    cmd->add_option("--root", args.root, "The target folder")->required();
    cmd->add_flag("--json", args.json, "Machine-readable output");
    return cmd;
}

}  // namespace

Runner add_apply_command(CLI::App& app) {
    auto args = std::make_shared<TargetArgs>();
    auto* cmd = target_command(app, "apply", "Apply a changeset archive to a target folder, all or nothing", *args);
    cmd->add_option("ARCHIVE", args->archive, "Changeset archive from 'exmsync pack', or - for standard input")
        ->required();
    return [args] { return run_apply(*args); };
}

Runner add_recover_command(CLI::App& app) {
    auto args = std::make_shared<TargetArgs>();
    target_command(app, "recover",
                   "Finish or undo an interrupted apply and remove a stale lock (apply also recovers first)", *args);
    return [args] { return run_recover(*args); };
}

Runner add_history_command(CLI::App& app) {
    auto args = std::make_shared<TargetArgs>();
    target_command(app, "history", "List the changesets applied to a target, oldest first (* marks the current)",
                   *args);
    return [args] { return run_history(*args); };
}

Runner add_rollback_command(CLI::App& app) {
    auto args = std::make_shared<TargetArgs>();
    auto* cmd = target_command(app, "rollback", "Return a target to its state right after an earlier apply", *args);
    cmd->add_option("--to", args->to, "Apply id (or a prefix of it) from 'exmsync history'")->required();
    cmd->add_flag("-n,--dry-run", args->dry_run, "Show what would change; change nothing");
    args->scan.add_to(*cmd);
    return [args] { return run_rollback(*args); };
}

}  // namespace exmsync::cli
