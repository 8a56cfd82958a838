// Runs a piece of a test in a child process, for the crash tests: a fault
// that ends the process must end a process other than the test's. On POSIX
// the child is forked; Windows has no fork, so there the test program starts
// itself again (CreateProcess) with `--exmsync-child-task NAME ARGS...`,
// which tests/support/test_main.cpp hands to the task registered under NAME.
// Tasks take strings, so the same arguments reach them either way.
#pragma once

#ifndef _WIN32
#include <sys/wait.h>
#include <unistd.h>
#endif

#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "platform/process.hpp"
#include "support/temp_tree.hpp"

namespace exmsync::testing {

using ChildTask = std::function<void(const std::vector<std::string>&)>;

inline std::map<std::string, ChildTask>& child_tasks() {
    static std::map<std::string, ChildTask> tasks;
    return tasks;
}

// At namespace scope: `const RegisterChildTask push_task("push", [](auto& args) {...});`
struct RegisterChildTask {
    RegisterChildTask(const std::string& name, ChildTask task) { child_tasks()[name] = std::move(task); }
};

// In the child: 0 when the task returned, 3 when it threw, 2 when no task
// has that name.
inline int run_child_task(const std::string& name, const std::vector<std::string>& args) {
    auto task = child_tasks().find(name);
    if (task == child_tasks().end()) return 2;
    try {
        task->second(args);
    } catch (...) {
        return 3;
    }
    return 0;
}

// Runs the task in a child process and returns its exit code (3 if it
// threw; on POSIX 128 + the signal if one ended it).
inline int in_child_task(const std::string& name, const std::vector<std::string>& args) {
#ifdef _WIN32
    std::vector<std::string> argv{platform::executable_path(), "--exmsync-child-task", name};
    argv.insert(argv.end(), args.begin(), args.end());
    TempDir scratch;
    platform::Child child(argv, (scratch / "stderr").string());
    child.close_input();
    char buffer[4096];
    while (true) {  // its output is drained, so a full pipe never stalls it
        auto n = child.read(buffer, sizeof buffer, 600'000);
        if (!n || *n == 0) break;
    }
    return child.wait();
#else
    pid_t pid = ::fork();
    if (pid == 0) std::_Exit(run_child_task(name, args));
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
#endif
}

}  // namespace exmsync::testing
