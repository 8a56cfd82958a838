// agent: serve one target folder to a remote exmsync over stdin and stdout.
// `exmsync push` starts it over SSH; nobody types it.
#include "sync/agent/server.hpp"
#include "tools/cli.hpp"

namespace exmsync::cli {

Runner add_agent_command(CLI::App& cmd) {
    auto root = std::make_shared<std::string>();
    auto name = std::make_shared<std::string>();
    cmd.add_option("--root", *root, "The target folder this agent serves")->required();
    cmd.add_option("--name", *name, "What messages call the target (the client's URL for it)");
    cmd.footer("Started by 'exmsync push' (and diff, apply, history, recover, rollback) on an ssh:// target; it "
               "speaks the agent protocol on its standard input and output, and logs on standard error.");
    return [root, name](Output&) {
        auto stream = sync::agent::stdio_stream();
        return sync::agent::serve(*stream, *root, *name);
    };
}

}  // namespace exmsync::cli
