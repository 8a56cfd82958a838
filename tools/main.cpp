// exmsync entry point: the table of commands, help and suggestions, and the
// one place where every failure becomes a one-line message, an exit code
// and (with --json) an error object.
#include <algorithm>
#include <iostream>
#include <map>

#include "platform/process.hpp"
#include "sync/error.hpp"
#include "sync/log.hpp"
#include "tools/cli.hpp"
#include "transport/transport.hpp"

namespace exmsync::cli {
namespace {

constexpr Command kCommands[] = {
    {"manifest", "Scan a folder (or check a manifest file) and print its manifest", add_manifest_command},
    {"diff", "Show what a push from SOURCE would do to TARGET (exit 0 same, 1 different, 2 error)",
     add_diff_command},
    {"push", "Make every TARGET equal SOURCE, each all or nothing (exit 0 all in sync, 1 some target failed, 2 error)",
     add_push_command},
    {"pack", "Write the changeset archive that brings a target holding a manifest up to date with SOURCE",
     add_pack_command},
    {"apply", "Apply a changeset archive to a target folder, all or nothing", add_apply_command},
    {"recover", "Finish or undo an interrupted apply and remove a stale lock", add_recover_command},
    {"history", "List the changesets applied to a target, oldest first", add_history_command},
    {"rollback", "Return a target to its state after an earlier apply (or before exmsync: 000000)",
     add_rollback_command},
    {"agent", "Serve a target folder to exmsync on another machine (started over SSH by push)", add_agent_command},
};

std::string version_text() {
#if defined(_WIN32)
    const char* platform = "Windows";
#elif defined(__linux__)
    const char* platform = "Linux";
#else
    const char* platform = "POSIX";
#endif
#if defined(__x86_64__) || defined(_M_X64)
    const char* arch = "x86_64";
#elif defined(__aarch64__)
    const char* arch = "aarch64";
#else
    const char* arch = "unknown";
#endif
    return std::string("exmsync ") + EXMSYNC_VERSION + " (" + platform + " " + arch + ")";
}

std::size_t distance(const std::string& a, const std::string& b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

// The closest of `names` to `typed`, when it is close enough to be a typo.
std::string closest(const std::string& typed, const std::vector<std::string>& names) {
    std::string best;
    std::size_t best_distance = 3;
    for (const auto& name : names) {
        std::size_t d = distance(typed, name);
        if (d < best_distance || (name.rfind(typed, 0) == 0 && typed.size() >= 3 && d < best_distance + 3)) {
            best = name;
            best_distance = std::min(d, best_distance);
        }
    }
    return best;
}

std::vector<std::string> option_names(const CLI::App& command) {
    std::vector<std::string> names;
    for (const CLI::Option* option : command.get_options())
        for (const auto& n : option->get_lnames()) names.push_back("--" + n);
    names.push_back("--verbose");
    names.push_back("--quiet");
    return names;
}

bool wants_json(int argc, char** argv) {
    for (int i = 1; i < argc; ++i)
        if (std::string(argv[i]) == "--json") return true;
    return false;
}

// Prints a failure: one line on stderr, and with --json the error object
// where results go (stdout, unless stdout carries an archive).
int fail(const Output& out, const std::string& code, const std::string& message, bool usage) {
    std::string where = out.command.empty() ? "exmsync" : "exmsync " + out.command;
    std::string help = out.command.empty() ? "exmsync help" : "exmsync help " + out.command;
    std::cerr << where << ": " << (usage ? "" : "error: ") << message << (usage ? " (see '" + help + "')" : "")
              << '\n';
    if (out.json) {
        nlohmann::json error = json_head(out, false);
        error["error"] = {{"code", code}, {"message", message}};
        out.results() << error.dump() << '\n';
    }
    return kError;
}

// The message CLI11 gives, with a suggestion for an option that was mistyped.
std::string parse_message(const CLI::ParseError& e, const CLI::App* command) {
    std::string message = e.what();
    if (!command || !dynamic_cast<const CLI::ExtrasError*>(&e)) return message;
    auto colon = message.rfind(": ");
    std::string extra = colon == std::string::npos ? "" : message.substr(colon + 2);
    extra = extra.substr(0, extra.find(' '));
    if (extra.rfind("-", 0) == 0) {
        std::string guess = closest(extra.substr(0, extra.find('=')), option_names(*command));
        message = "unknown option " + extra + (guess.empty() ? "" : "; did you mean " + guess + "?");
    } else {
        message = "unexpected argument '" + extra + "'";
    }
    return message;
}

}  // namespace
}  // namespace exmsync::cli

int main(int raw_argc, char** raw_argv) {
    using namespace exmsync::cli;
    exmsync::platform::prepare_standard_streams();
    // UTF-8 arguments on every platform; argv points into `arguments`.
    const std::vector<std::string> arguments = exmsync::platform::arguments(raw_argc, raw_argv);
    std::vector<char*> argv_utf8;
    for (const auto& a : arguments) argv_utf8.push_back(const_cast<char*>(a.c_str()));
    argv_utf8.push_back(nullptr);
    const int argc = static_cast<int>(arguments.size());
    char** argv = argv_utf8.data();
    CLI::App app{"exmsync: keep the EXM templates and configs of a scaled Sitecore install identical across servers",
                 "exmsync"};
    app.set_version_flag("-V,--version", version_text(), "Print the version and platform, then exit");
    app.fallthrough();  // -v and -q also work after the command name
    int verbose = 0;
    bool quiet = false;
    app.add_flag("-v,--verbose", verbose, "More log output on stderr (repeat for debug)");
    app.add_flag("-q,--quiet", quiet, "Only results, warnings that matter and errors");
    app.footer("Run 'exmsync help COMMAND' (or 'exmsync COMMAND --help') for a command's options.");

    std::map<std::string, std::pair<CLI::App*, Runner>> commands;
    std::vector<std::string> names;
    for (const Command& c : kCommands) {
        CLI::App* sub = app.add_subcommand(c.name, c.summary);
        commands[c.name] = {sub, c.add(*sub)};
        names.push_back(c.name);
    }
    // Listed with the others; answered below, before parsing, since its
    // argument is itself a command name.
    app.add_subcommand("help", "Show the help of exmsync, or of one command: exmsync help COMMAND");

    // Internal, not a command of the CLI: a worker of an smb:// target's
    // lister, started by this program itself (transport/smb_lister.hpp).
    if (argc == 2 && arguments[1] == "smb-lister")
        if (auto code = exmsync::transport::run_smb_lister()) return *code;

    Output out;
    out.json = wants_json(argc, argv);
    // The command is the first argument that is not an option.
    std::string typed, help_topic;
    int at = 1;
    for (; at < argc && typed.empty(); ++at)
        if (argv[at][0] != '-') typed = argv[at];
    if (typed == "help") {
        for (; at < argc && help_topic.empty(); ++at)
            if (argv[at][0] != '-') help_topic = argv[at];
        if (help_topic.empty()) {
            std::cout << app.help();
            return kOk;
        }
        if (!commands.count(help_topic)) {
            std::string guess = closest(help_topic, names);
            return fail(out, "usage",
                        "no command '" + help_topic + "'" + (guess.empty() ? "" : "; did you mean '" + guess + "'?"),
                        true);
        }
        std::cout << commands[help_topic].first->help("exmsync");
        return kOk;
    }
    if (!typed.empty() && !commands.count(typed)) {
        std::string guess = closest(typed, names);
        return fail(out, "usage", "unknown command '" + typed + "'" + (guess.empty() ? "" : "; did you mean '" + guess + "'?"),
                    true);
    }
    out.command = typed;
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);  // --version
        const CLI::App* command = out.command.empty() ? &app : commands[out.command].first;
        return fail(out, "usage", parse_message(e, command), true);
    }
    if (typed.empty()) {  // options only: say what there is to do
        std::cerr << app.help();
        return kError;
    }
    out.quiet = quiet;
    exmsync::log::setup(quiet ? -1 : verbose);
    try {
        return commands[out.command].second(out);
    } catch (const exmsync::sync::UsageError& e) {
        return fail(out, e.code(), e.what(), true);
    } catch (const std::exception& e) {
        return fail(out, exmsync::sync::error_code(e), e.what(), false);
    }
}
