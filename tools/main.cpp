// exmsync entry point: parses the command line, runs one command, and maps
// every failure to a one-line message and an exit code in one place.
#include <iostream>
#include <map>

#include "manifest/filter.hpp"
#include "sync/log.hpp"
#include "tools/commands.hpp"

namespace exmsync::cli {

void ScanFlags::add_to(CLI::App& command) {
    command.add_option("--include", include, "Only files matching this glob (repeatable; ** spans folders)");
    command.add_option("--exclude", exclude, "Leave out paths matching this glob (repeatable)");
    command.add_flag("--no-default-excludes", no_default_excludes,
                     "Keep Thumbs.db, desktop.ini, ~$* and *.tmp, which are excluded by default");
    command.add_flag("--no-cache", no_cache, "Hash every file; neither read nor write the stat cache");
    command.add_option("--cache", cache_file, "Stat cache file (default: FOLDER/.exmsync/statcache)");
}

sync::SnapshotOptions ScanFlags::snapshot_options() const {
    sync::SnapshotOptions options;
    options.filter = manifest::Filter(include, exclude, !no_default_excludes);
    options.use_cache = !no_cache;
    if (!cache_file.empty()) options.cache_file = cache_file;
    return options;
}

void print_warnings(const std::vector<std::string>& warnings, const std::string& where) {
    for (const auto& w : warnings) log::warn("{}: {}", where, w);
}

}  // namespace exmsync::cli

int main(int argc, char** argv) {
    using namespace exmsync::cli;
    CLI::App app{"exmsync: keep the EXM templates and configs of a scaled Sitecore install identical across servers"};
    app.require_subcommand(1);
    app.fallthrough();  // -v and -q also work after the command name
    app.set_version_flag("--version", "exmsync 0.1.0");
    GlobalOptions global;
    app.add_flag("-v,--verbose", global.verbose, "More log output on stderr (repeat for debug)");
    app.add_flag("-q,--quiet", global.quiet, "Only errors on stderr");

    std::map<CLI::App*, Runner> runners;
    auto add = [&](Runner (*adder)(CLI::App&)) {
        Runner run = adder(app);
        runners[app.get_subcommands({}).back()] = std::move(run);
    };
    add(add_manifest_command);
    add(add_diff_command);
    add(add_push_command);
    add(add_pack_command);
    add(add_apply_command);
    add(add_recover_command);
    add(add_history_command);
    add(add_rollback_command);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);
        std::cerr << "exmsync: " << e.what() << "; run 'exmsync --help'\n";
        return kError;
    }
    exmsync::log::setup(global.quiet ? -1 : global.verbose);
    try {
        for (auto* sub : app.get_subcommands())
            if (runners.count(sub)) return runners[sub]();
        return kError;
    } catch (const std::exception& e) {
        std::cerr << "exmsync: error: " << e.what() << '\n';
        return kError;
    }
}
