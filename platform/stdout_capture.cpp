// capture_stdout (platform/process.hpp), one implementation for both sides:
// the C runtime's descriptor calls have the same names on both.
#ifdef _WIN32
#include <io.h>
#else
#include <unistd.h>
#endif

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "platform/process.hpp"

namespace exmsync::platform {

std::string capture_stdout(const std::function<void()>& call) {
    std::fflush(stdout);
    std::FILE* sink = std::tmpfile();
    const int saved = sink ? ::dup(1) : -1;
    if (saved < 0 || ::dup2(::fileno(sink), 1) < 0) {
        const int e = errno;
        if (saved >= 0) ::close(saved);
        if (sink) std::fclose(sink);
        throw PipeError(std::string("cannot redirect stdout: ") + std::strerror(e));
    }
    auto restore = [&] {
        std::fflush(stdout);
        ::dup2(saved, 1);
        ::close(saved);
    };
    try {
        call();
    } catch (...) {
        restore();
        std::fclose(sink);
        throw;
    }
    restore();
    std::string text;
    std::rewind(sink);
    char buffer[512];
    while (std::size_t n = std::fread(buffer, 1, sizeof buffer, sink)) text.append(buffer, n);
    std::fclose(sink);
    return text;
}

}  // namespace exmsync::platform
