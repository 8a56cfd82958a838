// Test helpers: a temporary folder removed at the end of the test, small file
// writers, and a way to run a command and capture its output and exit code.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/filesystem.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace exmsync::testing {

namespace fs = boost::filesystem;

// Where tests that fsync a lot keep their trees: /dev/shm when it is a
// writable folder (EXMSYNC_SCRATCH_DIR overrides), else the temp folder. The
// crash tests stop processes, they do not cut power, so what they check does
// not depend on a flush reaching a disk (power cuts are simulated by
// FaultyTransport), and on tmpfs thousands of applies stay fast.
inline fs::path scratch_parent() {
    if (const char* chosen = std::getenv("EXMSYNC_SCRATCH_DIR")) return chosen;
    if (::access("/dev/shm", W_OK) == 0 && fs::is_directory("/dev/shm")) return "/dev/shm";
    return fs::temp_directory_path();
}

class TempDir {
public:
    explicit TempDir(const fs::path& parent = fs::temp_directory_path())
        : path_(parent / fs::unique_path("exmsync-test-%%%%-%%%%")) {
        fs::create_directories(path_);
    }
    ~TempDir() {
        boost::system::error_code ec;
        fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const fs::path& path() const { return path_; }
    fs::path operator/(const std::string& rel) const { return path_ / rel; }

private:
    fs::path path_;
};

inline void write_file(const fs::path& file, const std::string& content) {
    fs::create_directories(file.parent_path());
    std::ofstream out(file.string(), std::ios::binary | std::ios::trunc);
    out << content;
}

inline std::string read_file(const fs::path& file) {
    std::ifstream in(file.string(), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// Sets mtime well in the past, so the file is not "racily clean".
inline void age(const fs::path& file, std::time_t when = 1600000000) { fs::last_write_time(file, when); }

inline std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'') out += "'\\''";
        else out += c;
    }
    return out + "'";
}

struct CommandResult {
    int exit_code = -1;
    std::string out;
    std::string err;
};

// Runs `command` with /bin/sh, stdout and stderr captured separately.
inline CommandResult run(const std::string& command) {
    TempDir scratch;
    auto err_file = scratch / "stderr";
    std::string full = command + " 2>" + shell_quote(err_file.string());
    CommandResult result;
    FILE* pipe = ::popen(full.c_str(), "r");
    if (!pipe) return result;
    std::array<char, 65536> buffer;
    std::size_t n;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.out.append(buffer.data(), n);
    int status = ::pclose(pipe);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    result.err = read_file(err_file);
    return result;
}

}  // namespace exmsync::testing
