// Target-side commands: apply, recover, history, rollback. Each takes the
// target folder as a positional argument or with --root.
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>

#include "sync/apply.hpp"
#include "sync/archive.hpp"
#include "sync/report/report.hpp"
#include "sync/rollback.hpp"
#include "sync/target.hpp"
#include "tools/cli.hpp"
#include "transport/transport.hpp"
#include "platform/files.hpp"

namespace exmsync::cli {
namespace {

struct TargetArgs {
    std::string target;
    std::string root;
    std::string archive;
    std::string to;
    bool dry_run = false;
    bool json = false;
    SshFlags ssh;

    // The target, however it was given.
    std::string where() const {
        if (!target.empty() && !root.empty() && target != root)
            throw sync::UsageError("the target is given twice ('" + target + "' and --root '" + root + "'); give it once");
        std::string t = target.empty() ? root : target;
        if (t.empty()) throw sync::UsageError("no target given; name the target folder");
        return t;
    }
};

std::unique_ptr<sync::Target> open_target(const std::string& where, const TargetArgs& args) {
    return sync::open_target(where, args.ssh.options());
}

// Standard input copied to a local file: an agent gets the archive as one
// transfer, after it was checked here.
std::string spooled(const std::string& archive, manifest::TempFile& spool) {
    if (archive != "-") return archive;
    std::ofstream out(platform::stream_path(spool.path().string()), std::ios::binary);
    out << std::cin.rdbuf();
    out.close();
    if (!out) throw sync::Error("cannot keep the archive from standard input in " + spool.path().string());
    return spool.path().string();
}

void print_notes(const Output& out, const std::string& target, const std::vector<std::string>& notes) {
    for (const auto& n : notes) note(out, target + ": " + n);
}

// Which way an ssh:// target was reached, and why.
void note_mode(const Output& out, const std::string& where, const sync::Target& target) {
    if (!target.mode_reason().empty()) note(out, where + ": " + target.mode_reason());
}

int run_apply(const TargetArgs& args, Output& out) {
    std::string where = args.where();
    manifest::TempFile spool;
    const std::string file = spooled(args.archive, spool);
    // Read and checked before the target is touched; messages name what the
    // user gave, not the spool.
    std::ifstream spool_in;
    std::unique_ptr<sync::ArchiveReader> reader;
    if (args.archive == "-") {
        spool_in.open(platform::stream_path(file), std::ios::binary);
        reader = std::make_unique<sync::ArchiveReader>("<stdin>", [&](char* buffer, std::size_t size) {
            spool_in.read(buffer, static_cast<std::streamsize>(size));
            if (spool_in.bad()) throw sync::Error("cannot read " + file);
            return static_cast<std::size_t>(spool_in.gcount());
        });
    } else {
        reader = std::make_unique<sync::ArchiveReader>(file);
    }
    sync::ArchiveReader& archive = *reader;
    const sync::Changeset& changeset = archive.changeset();
    auto target = open_target(where, args);
    note_mode(out, where, *target);
    auto recovered = target->open(true);
    print_notes(out, where, recovered.notes);
    sync::ApplyOptions options;
    options.kind = "apply";
    auto report = target->mode() == "agent" ? target->apply_archive(file, options)
                                            : target->apply(changeset, archive, options);
    target->close();
    if (out.json) {
        nlohmann::json result = json_head(out, true);
        result["target"] = where;
        result["status"] = report.already_applied ? "in_sync" : "updated";
        result["archive"] = args.archive;
        result["changeset"] = changeset.header.id();
        result["apply_id"] = report.apply_id;
        result["already_applied"] = report.already_applied;
        result["base_root"] = changeset.header.base_root.hex();
        result["new_root"] = changeset.header.new_root.hex();
        result["counts"] = report::counts_json(report.already_applied ? sync::ChangeCounts{} : report.changes);
        result["notes"] = recovered.notes;
        std::cout << result.dump() << '\n';
    } else if (report.already_applied) {
        std::cout << where << ": already holds changeset " << changeset.header.id()
                  << (report.apply_id.empty() ? "" : " (as " + report.apply_id + ")") << "; nothing to do\n";
    } else {
        std::cout << where << ": " << report::counts_text(report.changes) << " [" << report.apply_id << "]\n";
    }
    return kOk;
}

int run_recover(const TargetArgs& args, Output& out) {
    std::string where = args.where();
    auto target = open_target(where, args);
    note_mode(out, where, *target);
    auto report = target->open(true);
    target->close();
    if (out.json) {
        nlohmann::json result = json_head(out, true);
        result["target"] = where;
        result["broke_stale_lock"] = report.broke_stale_lock;
        result["finished_apply"] = report.finished_apply;
        result["undone_apply"] = report.undone_apply;
        result["discarded_journal"] = report.discarded_journal;
        result["staging_removed"] = report.staging_removed;
        result["backups_removed"] = report.backups_removed;
        result["notes"] = report.notes;
        std::cout << result.dump() << '\n';
        return kOk;
    }
    for (const auto& n : report.notes) std::cout << where << ": " << n << '\n';
    if (report.staging_removed)
        std::cout << where << ": cleared " << report::plural(report.staging_removed, "abandoned staging folder",
                                                               "abandoned staging folders") << '\n';
    if (report.backups_removed)
        std::cout << where << ": removed " << report::plural(report.backups_removed, "orphan backup folder",
                                                               "orphan backup folders") << '\n';
    if (report.nothing_done()) std::cout << where << ": nothing to recover\n";
    return kOk;
}

std::string changes_cell(const sync::ChangeCounts& c) {
    return "+" + std::to_string(c.writes) + " -" + std::to_string(c.deletes) + " ~" + std::to_string(c.renames);
}

int run_history(const TargetArgs& args, Output& out) {
    std::string where = args.where();
    auto target = open_target(where, args);
    note_mode(out, where, *target);
    auto entries = target->history();
    std::optional<std::string> current;
    for (const auto& e : entries)
        if (e.current) current = e.record.apply_id;
    if (out.json) {
        nlohmann::json applies = nlohmann::json::array();
        for (const auto& [r, is_current, rollback_possible] : entries)
            applies.push_back({{"apply_id", r.apply_id},
                               {"kind", r.kind},
                               {"applied_at", r.applied_at},
                               {"host", r.host},
                               {"base_root", r.header.base_root.hex()},
                               {"new_root", r.header.new_root.hex()},
                               {"counts", report::counts_json(r.header.counts)},
                               {"drift", r.drift},
                               {"current", is_current},
                               {"rollback_possible", rollback_possible}});
        nlohmann::json result = json_head(out, true);
        result["target"] = where;
        result["current"] = current ? nlohmann::json(*current) : nlohmann::json(nullptr);
        result["applies"] = applies;
        std::cout << result.dump() << '\n';
        return kOk;
    }
    if (entries.empty()) {
        std::cout << where << ": no changesets applied yet\n";
        return kOk;
    }
    std::cout << "  " << std::left << std::setw(24) << "APPLY" << std::setw(22) << "WHEN (UTC)" << std::setw(10)
              << "KIND" << std::setw(16) << "FILES +/-/~" << "NOTES\n";
    for (const auto& [r, is_current, rollback_possible] : entries) {
        std::string notes = r.apply_id == sync::kInitialApply ? "before exmsync" : "";
        if (r.drift) notes += (notes.empty() ? "" : "; ") + report::plural(r.drift, "path", "paths") + " changed by hand before it";
        if (!rollback_possible) notes += (notes.empty() ? "" : "; ") + std::string("backups pruned");
        std::cout << (is_current ? "* " : "  ") << std::setw(24) << r.apply_id << std::setw(22) << r.applied_at
                  << std::setw(10) << r.kind << std::setw(16)
                  << (r.apply_id == sync::kInitialApply ? "" : changes_cell(r.header.counts)) << notes << '\n';
    }
    std::cout << "(* is the current state; FILES: + written, - deleted, ~ renamed; 'exmsync rollback " << where
              << " --to APPLY' returns to the state after an apply)\n";
    return kOk;
}

int run_rollback(const TargetArgs& args, Output& out) {
    std::string where = args.where();
    auto target = open_target(where, args);
    note_mode(out, where, *target);
    sync::RollbackOptions options;
    options.dry_run = args.dry_run;
    auto report = target->rollback(args.to, options);
    print_notes(out, where, report.notes);
    const sync::Changeset changeset{report.plan->header, report.plan->ops.path()};
    if (out.json) {
        report::JsonWriter json(std::cout);
        nlohmann::json head = json_head(out, true);
        head["target"] = where;
        head["status"] = changeset.header.empty() ? "in_sync" : args.dry_run ? "would_update" : "updated";
        head["to"] = report.to_apply;
        head["dry_run"] = args.dry_run;
        head["apply_id"] = report.applied.apply_id;
        head["base_root"] = changeset.header.base_root.hex();
        head["new_root"] = changeset.header.new_root.hex();
        head["counts"] = report::counts_json(changeset.header.counts);
        head["notes"] = report.notes;
        json.begin(head);
        if (args.dry_run) {
            json.array("changes");
            report::write_changes_json(json, changeset);
            json.end_array();
        }
        json.end();
        return kOk;
    }
    if (changeset.header.empty()) {
        std::cout << where << ": already as after " << report.to_apply << '\n';
    } else if (args.dry_run) {
        std::cout << where << ": rolling back to " << report.to_apply << " would "
                  << report::counts_text(changeset.header.counts, true).substr(6) << ":\n";
        report::write_changes_text(std::cout, changeset, "  ");
    } else {
        std::cout << where << ": " << report::counts_text(changeset.header.counts) << " [" << report.applied.apply_id
                  << "]\n";
    }
    return kOk;
}

void target_options(CLI::App& cmd, TargetArgs& args) {
    cmd.add_option("TARGET", args.target, "The target: a folder, a file:// or an ssh:// URL");
    cmd.add_option("--root", args.root, "The target (the same as TARGET)");
    cmd.add_flag("--json", args.json, "One JSON object");
    args.ssh.add_to(cmd);
}

}  // namespace

Runner add_apply_command(CLI::App& cmd) {
    auto args = std::make_shared<TargetArgs>();
    cmd.add_option("ARCHIVE", args->archive, "Changeset archive from 'exmsync pack', or - for standard input")
        ->required();
    target_options(cmd, *args);
    args->ssh.add_verify_to(cmd);
    return [args](Output& out) { return run_apply(*args, out); };
}

Runner add_recover_command(CLI::App& cmd) {
    auto args = std::make_shared<TargetArgs>();
    target_options(cmd, *args);
    return [args](Output& out) { return run_recover(*args, out); };
}

Runner add_history_command(CLI::App& cmd) {
    auto args = std::make_shared<TargetArgs>();
    target_options(cmd, *args);
    return [args](Output& out) { return run_history(*args, out); };
}

Runner add_rollback_command(CLI::App& cmd) {
    auto args = std::make_shared<TargetArgs>();
    target_options(cmd, *args);
    cmd.add_option("--to", args->to, "Apply id (or a prefix of it) from 'exmsync history'; 000000 is before exmsync")
        ->required();
    cmd.add_flag("-n,--dry-run", args->dry_run, "Show what would change; change nothing, take no lock");
    return [args](Output& out) { return run_rollback(*args, out); };
}

}  // namespace exmsync::cli
