// exmsync diff A B: what differs between two folders or manifest files.
#include <future>
#include <iostream>
#include <memory>

#include "manifest/names.hpp"
#include "sync/report/report.hpp"
#include "tools/commands.hpp"

namespace exmsync::cli {
namespace {

struct DiffArgs {
    std::string a;
    std::string b;
    bool json = false;
    bool no_renames = false;
    ScanFlags scan;
};

// Warnings for names a Windows target would refuse or merge, from either side.
void check_names(const sync::Snapshot& snap) {
    if (snap.scan()) {
        print_warnings(snap.scan()->warnings, snap.location());
        return;
    }
    manifest::NameChecker checker;
    auto reader = snap.reader();
    while (const auto* e = reader->peek()) {
        checker.add(*e);
        reader->pop();
    }
    print_warnings(checker.warnings(), snap.location());
}

int run_diff(const DiffArgs& args) {
    auto options = args.scan.snapshot_options();
    // Both sides are scanned at once: with warm caches each is a stat walk.
    auto side_b = std::async(std::launch::async, [&] { return sync::Snapshot::open(args.b, options); });
    std::unique_ptr<sync::Snapshot> a;
    try {
        a = sync::Snapshot::open(args.a, options);
    } catch (...) {
        try { side_b.get(); } catch (...) {}
        throw;
    }
    auto b = side_b.get();
    check_names(*a);
    check_names(*b);

    auto reader_a = a->reader();
    auto reader_b = b->reader();
    manifest::DiffOptions diff_options;
    diff_options.detect_renames = !args.no_renames;
    auto result = manifest::diff_streams(*reader_a, *reader_b, diff_options);
    if (args.json) std::cout << report::diff_json(result).dump(2) << '\n';
    else report::write_diff_short(std::cout, result);
    return result.same() ? kOk : kDifferent;
}

}  // namespace

Runner add_diff_command(CLI::App& app) {
    auto args = std::make_shared<DiffArgs>();
    auto* cmd = app.add_subcommand("diff", "Compare two folders or manifest files (exit 0 same, 1 different, 2 error)");
    cmd->add_option("A", args->a, "Folder or manifest file: the reference")->required();
    cmd->add_option("B", args->b, "Folder or manifest file compared with A")->required();
    cmd->add_flag("--json", args->json, "List every change as JSON");
    cmd->add_flag("--no-renames", args->no_renames, "Report a moved file as removed and added");
    args->scan.add_to(*cmd);
    return [args] { return run_diff(*args); };
}

}  // namespace exmsync::cli
