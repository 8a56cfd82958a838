#include "platform/process.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace exmsync::platform {

std::string host_name() {
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) != 0) return "unknown-host";
    return name;
}

std::int64_t process_id() { return ::getpid(); }

bool process_alive(std::int64_t pid) {
    if (pid <= 0) return false;
    return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

std::string process_start_time(std::int64_t pid) {
    // Field 22 of /proc/PID/stat: clock ticks after boot. The command name
    // (field 2) may hold spaces and parentheses, so count from its last ')'.
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto close = text.rfind(')');
    if (close == std::string::npos) return {};
    std::istringstream fields(text.substr(close + 2));
    std::string field;
    for (int i = 3; i <= 22 && fields >> field; ++i)
        if (i == 22) return field;
    return {};
}

std::string environment(const std::string& name) {
    const char* value = std::getenv(name.c_str());
    return value ? value : "";
}

std::string executable_path() {
    char path[4096];
    const ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
    return n > 0 ? std::string(path, static_cast<std::size_t>(n)) : std::string();
}

std::string utc_now() {
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&now, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
}

// ---- pipes ----

namespace {

std::string why(const char* call) { return std::string(call) + ": " + std::strerror(errno); }

// nullopt on timeout; 0 at the end.
std::optional<std::size_t> read_fd(int fd, char* buffer, std::size_t size, int timeout_ms) {
    while (true) {
        pollfd p{fd, POLLIN, 0};
        int ready = ::poll(&p, 1, timeout_ms);
        if (ready < 0 && errno == EINTR) continue;
        if (ready < 0) throw PipeError(why("poll"));
        if (ready == 0) return std::nullopt;
        ssize_t n = ::read(fd, buffer, size);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw PipeError(why("read"));
        return static_cast<std::size_t>(n);
    }
}

void write_fd(int fd, const char* data, std::size_t size) {
    while (size > 0) {
        ssize_t n = ::write(fd, data, size);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw PipeError(errno == EPIPE ? std::string("the other side closed the pipe") : why("write"));
        data += n;
        size -= static_cast<std::size_t>(n);
    }
}

void close_fd(std::intptr_t& fd) {
    if (fd >= 0) ::close(static_cast<int>(fd));
    fd = -1;
}

}  // namespace

void ignore_broken_pipes() { std::signal(SIGPIPE, SIG_IGN); }

Child::Child(const std::vector<std::string>& argv, const std::string& errors_file) {
    if (argv.empty()) throw PipeError("no program to run");
    ignore_broken_pipes();
    int to_child[2], from_child[2];
    if (::pipe2(to_child, O_CLOEXEC) != 0) throw PipeError(why("pipe"));
    if (::pipe2(from_child, O_CLOEXEC) != 0) {
        int e = errno;
        ::close(to_child[0]);
        ::close(to_child[1]);
        errno = e;
        throw PipeError(why("pipe"));
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, to_child[0], 0);
    posix_spawn_file_actions_adddup2(&actions, from_child[1], 1);
    posix_spawn_file_actions_addopen(&actions, 2, errors_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(to_child[0]);
    ::close(from_child[1]);
    if (rc != 0) {
        ::close(to_child[1]);
        ::close(from_child[0]);
        throw PipeError("cannot run " + argv[0] + ": " + std::strerror(rc));
    }
    process_ = pid;
    in_ = to_child[1];
    out_ = from_child[0];
}

Child::~Child() {
    close_fd(in_);
    close_fd(out_);
    if (status_ || process_ < 0) return;
    // A program whose pipes are closed normally ends at once; one that does
    // not (a hung ssh) is not waited for forever.
    for (int i = 0; i < 50; ++i) {
        int st = 0;
        if (::waitpid(static_cast<pid_t>(process_), &st, WNOHANG) != 0) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ::kill(static_cast<pid_t>(process_), SIGKILL);
    int st = 0;
    ::waitpid(static_cast<pid_t>(process_), &st, 0);
}

std::optional<std::size_t> Child::read(char* buffer, std::size_t size, int timeout_ms) {
    return read_fd(static_cast<int>(out_), buffer, size, timeout_ms);
}

void Child::write(const char* data, std::size_t size) { write_fd(static_cast<int>(in_), data, size); }

void Child::close_input() { close_fd(in_); }

std::int64_t Child::pid() const { return process_; }

void Child::kill() {
    if (!status_ && process_ > 0) ::kill(static_cast<pid_t>(process_), SIGKILL);
}

int Child::wait() {
    if (!status_) {
        close_fd(in_);
        int st = 0;
        while (::waitpid(static_cast<pid_t>(process_), &st, 0) < 0 && errno == EINTR) {
        }
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    }
    return *status_;
}

std::optional<std::size_t> read_stdin(char* buffer, std::size_t size, int timeout_ms) {
    return read_fd(0, buffer, size, timeout_ms);
}

void write_stdout(const char* data, std::size_t size) { write_fd(1, data, size); }

std::vector<std::string> arguments(int argc, char** argv) { return {argv, argv + argc}; }

void* load_library(const std::string& name, std::string& error) {
    // RTLD_NOW: a missing function shows at once, not halfway through a push.
    void* library = ::dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        const char* why = ::dlerror();
        error = why ? why : name + ": cannot be loaded";
    }
    return library;
}

void* library_symbol(void* library, const std::string& name) { return ::dlsym(library, name.c_str()); }

void prepare_standard_streams() {}

}  // namespace exmsync::platform
