// Runs a piece of a test in a forked child process: for the crash tests (a
// fault that ends the process) and for libraries whose state must not be
// shared between runs (libsmbclient keeps connections process-wide).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

namespace exmsync::testing {

// Runs `body` in a child process; returns its exit code (3 if it threw,
// 128 + the signal if one ended it).
template <typename Body>
int in_child(Body&& body) {
    pid_t child = ::fork();
    if (child == 0) {
        try {
            body();
        } catch (...) {
            std::_Exit(3);
        }
        std::_Exit(0);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace exmsync::testing
