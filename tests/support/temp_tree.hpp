// Test helpers: a temporary folder removed at the end of the test, small file
// writers, and a way to run a command and capture its output and exit code.
#pragma once

#ifndef _WIN32
#include <sys/wait.h>
#include <unistd.h>
#endif

#include <array>
#include <boost/filesystem.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "platform/files.hpp"

namespace exmsync::testing {

namespace fs = boost::filesystem;

// Where tests that fsync a lot keep their trees: /dev/shm when it is a
// writable folder (EXMSYNC_SCRATCH_DIR overrides), else the temp folder. The
// crash tests stop processes, they do not cut power, so what they check does
// not depend on a flush reaching a disk (power cuts are simulated by
// FaultyTransport), and on tmpfs thousands of applies stay fast.
inline fs::path scratch_parent() {
    if (const char* chosen = std::getenv("EXMSYNC_SCRATCH_DIR")) return chosen;
#ifndef _WIN32
    if (::access("/dev/shm", W_OK) == 0 && fs::is_directory("/dev/shm")) return "/dev/shm";
#endif
    return fs::temp_directory_path();
}

class TempDir {
public:
    explicit TempDir(const fs::path& parent = fs::temp_directory_path(),
                     const std::string& pattern = "exmsync-test-%%%%-%%%%")
        : path_(parent / fs::unique_path(pattern)) {
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

// The standard streams take the name in UTF-16 on Windows (platform::stream_path).
inline std::filesystem::path stream_path(const fs::path& path) { return platform::stream_path(path.string()); }

// Points the system's temporary folder (TMPDIR; TMP and TEMP on Windows) at
// `folder` for this process and the children it starts; back when destroyed.
class TempFolderOverride {
public:
    explicit TempFolderOverride(const fs::path& folder) {
        for (const char* name : names()) {
            const char* value = std::getenv(name);
            saved_.emplace_back(value ? value : "");
            set(name, folder.string());
        }
    }
    ~TempFolderOverride() {
        for (std::size_t i = 0; i < names().size(); ++i) set(names()[i], saved_[i]);
    }
    TempFolderOverride(const TempFolderOverride&) = delete;
    TempFolderOverride& operator=(const TempFolderOverride&) = delete;

private:
    static std::vector<const char*> names() {
#ifdef _WIN32
        return {"TMP", "TEMP"};
#else
        return {"TMPDIR"};
#endif
    }
    static void set(const char* name, const std::string& value) {  // "" removes it
#ifdef _WIN32
        ::_putenv_s(name, value.c_str());
#else
        if (value.empty()) ::unsetenv(name);
        else ::setenv(name, value.c_str(), 1);
#endif
    }
    std::vector<std::string> saved_;
};

inline void write_file(const fs::path& file, const std::string& content) {
    fs::create_directories(file.parent_path());
    std::ofstream out(stream_path(file), std::ios::binary | std::ios::trunc);
    out << content;
}

inline std::string read_file(const fs::path& file) {
    std::ifstream in(stream_path(file), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// Whether `dir`'s file system folds case (Windows; Samba by default): names
// that differ only in case are one file there.
inline bool folds_case(const fs::path& dir) {
    write_file(dir / ".case-probe-A", "");
    const bool folds = fs::exists(dir / ".case-probe-a");
    fs::remove(dir / ".case-probe-A");
    return folds;
}

// Whether symlinks can be made in `dir`: Wine 8 reports success for
// CreateSymbolicLinkW and makes nothing.
inline bool makes_symlinks(const fs::path& dir) {
    boost::system::error_code ec;
    fs::create_symlink("nowhere", dir / ".link-probe", ec);
    const bool made = !ec && fs::is_symlink(dir / ".link-probe");
    fs::remove(dir / ".link-probe", ec);
    return made;
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

// Runs `command` with /bin/sh (cmd.exe on Windows), stdout and stderr
// captured separately.
inline CommandResult run(const std::string& command) {
    TempDir scratch;
    auto err_file = scratch / "stderr";
    CommandResult result;
#ifdef _WIN32
    // cmd.exe strips the outer quotes of a line that starts with one.
    std::string full = "\"" + command + " 2>\"" + err_file.string() + "\"\"";
    FILE* pipe = ::_popen(full.c_str(), "rb");
    if (!pipe) return result;
    std::array<char, 65536> buffer;
    std::size_t n;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.out.append(buffer.data(), n);
    result.exit_code = ::_pclose(pipe);
#else
    std::string full = command + " 2>" + shell_quote(err_file.string());
    FILE* pipe = ::popen(full.c_str(), "r");
    if (!pipe) return result;
    std::array<char, 65536> buffer;
    std::size_t n;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.out.append(buffer.data(), n);
    int status = ::pclose(pipe);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
#endif
    result.err = read_file(err_file);
    return result;
}

}  // namespace exmsync::testing
