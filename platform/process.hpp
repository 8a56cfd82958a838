// The platform layer's processes: the few facts about this process and
// machine that sync needs (the lock records who holds it), and the pipes the
// agent mode talks through. process_posix.cpp and process_win32.cpp
// implement it side by side.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace exmsync::platform {

std::string host_name();
std::int64_t process_id();
// False only when this machine has no process with that id.
bool process_alive(std::int64_t pid);
// When process `pid` started, in a form that only has to compare equal for
// the same process ("" when unknown): a pid reused by a later process gives
// another value.
std::string process_start_time(std::int64_t pid);
// An environment variable's value in UTF-8, or "" when it is not set (on
// Windows read as UTF-16: getenv gives the ANSI code page, which cannot hold
// every user's profile path).
std::string environment(const std::string& name);
// The path of this program's executable ("" if the system will not say).
std::string executable_path();
// UTC, ISO 8601 with seconds: 2026-11-28T20:15:03Z.
std::string utc_now();

// A pipe or process failed; the message says which call and why.
class PipeError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Writing into a pipe whose reader is gone must be an error to report, not
// a signal that ends the process (an agent must release its lock first).
void ignore_broken_pipes();

// A program run without a shell, its stdin and stdout connected to us by
// pipes and its stderr written to `errors_file` (for messages: a pipe for it
// could fill up and stall the program while nobody reads it).
class Child {
public:
    // Throws PipeError when the program cannot be started.
    Child(const std::vector<std::string>& argv, const std::string& errors_file);
    // Closes both pipes, then waits for the program (killing it after a few
    // seconds if it does not end by itself).
    ~Child();
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    // Up to `size` bytes of its stdout: 0 at its end, nullopt when nothing
    // came for `timeout_ms` milliseconds. Throws PipeError.
    std::optional<std::size_t> read(char* buffer, std::size_t size, int timeout_ms);
    // All of it; throws PipeError when the program no longer reads.
    void write(const char* data, std::size_t size);
    void close_input();
    // Its exit status once it ended by itself (waits for it); -1 when it was
    // killed by a signal.
    int wait();
    // Ends it at once (SIGKILL, TerminateProcess), for a helper whose work
    // is no longer wanted and that may be stuck; the destructor reaps it.
    void kill();
    std::int64_t pid() const;

private:
    // A pid and two descriptors on POSIX; a process handle and two pipe
    // handles on Windows.
    std::intptr_t process_ = -1;
    std::intptr_t in_ = -1, out_ = -1;
    std::optional<int> status_;
};

// The command line, UTF-8: on Windows read again as UTF-16 (argv holds the
// ANSI code page, which cannot say every name).
std::vector<std::string> arguments(int argc, char** argv);
// Before anything is read or written: stdin and stdout carry archives
// (apply -, pack -o -), so no newline translation; the console shows UTF-8.
void prepare_standard_streams();

// A shared library loaded for the life of the process (libsmbclient, loaded
// when a share is first used): nullptr with the system's reason in `error`.
void* load_library(const std::string& name, std::string& error);
// One of its functions, or nullptr.
void* library_symbol(void* library, const std::string& name);

// Runs `call` while this process's stdout (descriptor 1, where a C library
// may print) goes to a temporary file, and returns what was printed there.
// Throws PipeError when stdout cannot be redirected.
std::string capture_stdout(const std::function<void()>& call);

// This process's own stdin and stdout, unbuffered: the agent's side of the pipes.
std::optional<std::size_t> read_stdin(char* buffer, std::size_t size, int timeout_ms);
void write_stdout(const char* data, std::size_t size);

}  // namespace exmsync::platform
