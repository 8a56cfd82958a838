// The Win32 side of platform/process.hpp.
// - A child's stdout is an overlapped named pipe on our side, so a read can
//   wait with a timeout and be cancelled; anonymous pipes cannot.
// - A child inherits exactly its three handles (PROC_THREAD_ATTRIBUTE_HANDLE_LIST):
//   targets are served in parallel, and a pipe end leaked into another
//   target's child would keep that pipe open after its own child ended.
// - Command lines are quoted as the Microsoft C runtime splits them, so an
//   argument with spaces or quotes arrives as one argument, unchanged.
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <fcntl.h>
#include <io.h>
#include <shellapi.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>

#include "platform/process.hpp"
#include "platform/win32_text.hpp"

namespace exmsync::platform {
namespace {

std::string message(DWORD code) {
    wchar_t* text = nullptr;
    DWORD length = ::FormatMessageW(FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM |
                                        FORMAT_MESSAGE_IGNORE_INSERTS,
                                    nullptr, code, 0, reinterpret_cast<wchar_t*>(&text), 0, nullptr);
    std::string message = length ? narrow(text, length) : "error " + std::to_string(code);
    if (text) ::LocalFree(text);
    while (!message.empty() && (message.back() == '\n' || message.back() == '\r' || message.back() == '.'))
        message.pop_back();
    return message;
}

std::string why(const char* call, DWORD code = ::GetLastError()) { return std::string(call) + ": " + message(code); }

bool closed_pipe(DWORD code) { return code == ERROR_BROKEN_PIPE || code == ERROR_NO_DATA; }

HANDLE as_handle(std::intptr_t value) { return reinterpret_cast<HANDLE>(value); }

void close_handle(std::intptr_t& value) {
    if (value != -1) ::CloseHandle(as_handle(value));
    value = -1;
}

class Owned {
public:
    explicit Owned(HANDLE h = INVALID_HANDLE_VALUE) : h_(h) {}
    ~Owned() {
        if (valid()) ::CloseHandle(h_);
    }
    Owned(const Owned&) = delete;
    Owned& operator=(const Owned&) = delete;
    bool valid() const { return h_ != INVALID_HANDLE_VALUE && h_ != nullptr; }
    HANDLE get() const { return h_; }
    HANDLE release() {
        HANDLE h = h_;
        h_ = INVALID_HANDLE_VALUE;
        return h;
    }

private:
    HANDLE h_;
};

// One argument as CommandLineToArgvW and the C runtime read it back:
// backslashes are literal except before a quote, where they are doubled.
void append_quoted(std::wstring& line, const std::wstring& arg) {
    if (!arg.empty() && arg.find_first_of(L" \t\n\v\"") == std::wstring::npos) {
        line += arg;
        return;
    }
    line += L'"';
    std::size_t backslashes = 0;
    for (wchar_t c : arg) {
        if (c == L'\\') {
            ++backslashes;
            continue;
        }
        if (c == L'"') line.append(backslashes * 2 + 1, L'\\');
        else line.append(backslashes, L'\\');
        backslashes = 0;
        line += c;
    }
    line.append(backslashes * 2, L'\\');
    line += L'"';
}

void write_handle(HANDLE h, const char* data, std::size_t size) {
    while (size > 0) {
        DWORD chunk = size > (1u << 30) ? (1u << 30) : static_cast<DWORD>(size);
        DWORD written = 0;
        if (!::WriteFile(h, data, chunk, &written, nullptr)) {
            DWORD code = ::GetLastError();
            throw PipeError(closed_pipe(code) ? std::string("the other side closed the pipe") : why("WriteFile", code));
        }
        data += written;
        size -= written;
    }
}

DWORD clamp(std::size_t size) { return size > (1u << 30) ? (1u << 30) : static_cast<DWORD>(size); }

}  // namespace

std::string host_name() {
    wchar_t name[256];
    DWORD size = 256;
    if (!::GetComputerNameExW(ComputerNameDnsHostname, name, &size)) return "unknown-host";
    return narrow(name, size);
}

std::int64_t process_id() { return static_cast<std::int64_t>(::GetCurrentProcessId()); }

bool process_alive(std::int64_t pid) {
    if (pid <= 0) return false;
    // SYNCHRONIZE, to ask whether it has ended: an ended process whose handle
    // someone still holds keeps its id.
    Owned process(::OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE, FALSE, static_cast<DWORD>(pid)));
    // Another user's process may refuse to be opened; it still exists.
    if (!process.valid()) return ::GetLastError() == ERROR_ACCESS_DENIED;
    return ::WaitForSingleObject(process.get(), 0) == WAIT_TIMEOUT;
}

std::string process_start_time(std::int64_t pid) {
    Owned process(::OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, static_cast<DWORD>(pid)));
    if (!process.valid()) return {};
    FILETIME created, exited, kernel, user;
    if (!::GetProcessTimes(process.get(), &created, &exited, &kernel, &user)) return {};
    ULARGE_INTEGER steps;
    steps.LowPart = created.dwLowDateTime;
    steps.HighPart = created.dwHighDateTime;
    return std::to_string(steps.QuadPart);
}

std::string environment(const std::string& name) {
    const std::wstring wide = widen(name);
    const DWORD size = ::GetEnvironmentVariableW(wide.c_str(), nullptr, 0);
    if (size == 0) return {};
    std::wstring value(size, L'\0');
    const DWORD length = ::GetEnvironmentVariableW(wide.c_str(), value.data(), size);
    return length < size ? narrow(value.data(), length) : std::string();
}

std::string executable_path() {
    std::wstring path(32768, L'\0');  // the longest path Windows has
    const DWORD n = ::GetModuleFileNameW(nullptr, path.data(), static_cast<DWORD>(path.size()));
    return n ? narrow(path.data(), n) : std::string();
}

std::string utc_now() {
    SYSTEMTIME t;
    ::GetSystemTime(&t);
    char text[32];
    std::snprintf(text, sizeof text, "%04u-%02u-%02uT%02u:%02u:%02uZ", t.wYear, t.wMonth, t.wDay, t.wHour,
                  t.wMinute, t.wSecond);
    return text;
}

// Windows has no SIGPIPE: a write to a closed pipe fails with ERROR_NO_DATA.
void ignore_broken_pipes() {}

Child::Child(const std::vector<std::string>& argv, const std::string& errors_file) {
    if (argv.empty()) throw PipeError("no program to run");
    SECURITY_ATTRIBUTES inheritable{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};

    // stdin: an anonymous pipe is enough, our writes may block.
    HANDLE child_in_raw = nullptr, our_in_raw = nullptr;
    if (!::CreatePipe(&child_in_raw, &our_in_raw, &inheritable, 0)) throw PipeError(why("CreatePipe"));
    Owned child_in(child_in_raw), our_in(our_in_raw);
    ::SetHandleInformation(our_in.get(), HANDLE_FLAG_INHERIT, 0);

    // stdout: a named pipe, overlapped on our side for reads with a timeout.
    static std::atomic<unsigned> serial{0};
    std::wstring name = L"\\\\.\\pipe\\exmsync-" + std::to_wstring(::GetCurrentProcessId()) + L"-" +
                        std::to_wstring(++serial);
    Owned our_out(::CreateNamedPipeW(name.c_str(), PIPE_ACCESS_INBOUND | FILE_FLAG_OVERLAPPED |
                                                       FILE_FLAG_FIRST_PIPE_INSTANCE,
                                     PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
                                     1, 65536, 65536, 0, nullptr));
    if (!our_out.valid()) throw PipeError(why("CreateNamedPipe"));
    Owned child_out(::CreateFileW(name.c_str(), GENERIC_WRITE, 0, &inheritable, OPEN_EXISTING, 0, nullptr));
    if (!child_out.valid()) throw PipeError(why("CreateFile (pipe)"));

    Owned child_err(::CreateFileW(widen(errors_file).c_str(), GENERIC_WRITE,
                                  FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, &inheritable,
                                  CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr));
    if (!child_err.valid()) throw PipeError(why(("cannot create " + errors_file).c_str()));

    HANDLE inherit[3] = {child_in.get(), child_out.get(), child_err.get()};
    SIZE_T attr_size = 0;
    ::InitializeProcThreadAttributeList(nullptr, 1, 0, &attr_size);
    std::vector<char> attr_buffer(attr_size);
    auto* attributes = reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(attr_buffer.data());
    if (!::InitializeProcThreadAttributeList(attributes, 1, 0, &attr_size))
        throw PipeError(why("InitializeProcThreadAttributeList"));
    struct Cleanup {
        LPPROC_THREAD_ATTRIBUTE_LIST list;
        ~Cleanup() { ::DeleteProcThreadAttributeList(list); }
    } cleanup{attributes};
    if (!::UpdateProcThreadAttribute(attributes, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, inherit, sizeof inherit,
                                     nullptr, nullptr))
        throw PipeError(why("UpdateProcThreadAttribute"));

    STARTUPINFOEXW startup{};
    startup.StartupInfo.cb = sizeof startup;
    startup.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
    startup.StartupInfo.hStdInput = child_in.get();
    startup.StartupInfo.hStdOutput = child_out.get();
    startup.StartupInfo.hStdError = child_err.get();
    startup.lpAttributeList = attributes;

    std::wstring line;
    for (const auto& arg : argv) {
        if (!line.empty()) line += L' ';
        append_quoted(line, widen(arg));
    }
    PROCESS_INFORMATION info{};
    if (!::CreateProcessW(nullptr, line.data(), nullptr, nullptr, TRUE,
                          EXTENDED_STARTUPINFO_PRESENT | CREATE_NO_WINDOW | CREATE_UNICODE_ENVIRONMENT, nullptr,
                          nullptr, &startup.StartupInfo, &info))
        throw PipeError("cannot run " + argv[0] + ": " + message(::GetLastError()));
    ::CloseHandle(info.hThread);
    process_ = reinterpret_cast<std::intptr_t>(info.hProcess);
    in_ = reinterpret_cast<std::intptr_t>(our_in.release());
    out_ = reinterpret_cast<std::intptr_t>(our_out.release());
}

Child::~Child() {
    close_handle(in_);
    close_handle(out_);
    if (process_ == -1) return;
    // A program whose pipes are closed normally ends at once; one that does
    // not (a hung ssh) is not waited for forever.
    if (!status_ && ::WaitForSingleObject(as_handle(process_), 5000) != WAIT_OBJECT_0) {
        ::TerminateProcess(as_handle(process_), 1);
        ::WaitForSingleObject(as_handle(process_), INFINITE);
    }
    close_handle(process_);
}

std::optional<std::size_t> Child::read(char* buffer, std::size_t size, int timeout_ms) {
    OVERLAPPED request{};
    Owned event(::CreateEventW(nullptr, TRUE, FALSE, nullptr));
    if (!event.valid()) throw PipeError(why("CreateEvent"));
    request.hEvent = event.get();
    HANDLE pipe = as_handle(out_);
    DWORD got = 0;
    if (!::ReadFile(pipe, buffer, clamp(size), &got, &request)) {
        DWORD code = ::GetLastError();
        if (closed_pipe(code)) return 0;
        if (code != ERROR_IO_PENDING) throw PipeError(why("ReadFile", code));
        if (::WaitForSingleObject(event.get(), timeout_ms < 0 ? INFINITE : static_cast<DWORD>(timeout_ms)) ==
            WAIT_TIMEOUT) {
            ::CancelIoEx(pipe, &request);
            // The read may have completed while it was being cancelled.
            if (::GetOverlappedResult(pipe, &request, &got, TRUE)) return static_cast<std::size_t>(got);
            code = ::GetLastError();
            if (code == ERROR_OPERATION_ABORTED) return std::nullopt;
            if (closed_pipe(code)) return 0;
            throw PipeError(why("ReadFile", code));
        }
        if (!::GetOverlappedResult(pipe, &request, &got, FALSE)) {
            code = ::GetLastError();
            if (closed_pipe(code)) return 0;
            throw PipeError(why("ReadFile", code));
        }
    }
    return static_cast<std::size_t>(got);
}

void Child::write(const char* data, std::size_t size) { write_handle(as_handle(in_), data, size); }

void Child::close_input() { close_handle(in_); }

std::int64_t Child::pid() const { return ::GetProcessId(as_handle(process_)); }

void Child::kill() {
    if (!status_ && process_ != -1) ::TerminateProcess(as_handle(process_), 1);
}

int Child::wait() {
    if (!status_) {
        close_handle(in_);
        ::WaitForSingleObject(as_handle(process_), INFINITE);
        DWORD code = 0;
        ::GetExitCodeProcess(as_handle(process_), &code);
        status_ = static_cast<int>(code);
    }
    return *status_;
}

std::optional<std::size_t> read_stdin(char* buffer, std::size_t size, int timeout_ms) {
    HANDLE in = ::GetStdHandle(STD_INPUT_HANDLE);
    // The agent's stdin is the pipe sshd (or a parent exmsync) gave it, never
    // overlapped: wait for bytes by peeking, then read what is there.
    ULONGLONG deadline = ::GetTickCount64() + static_cast<ULONGLONG>(timeout_ms < 0 ? 0 : timeout_ms);
    DWORD pause = 0;
    while (true) {
        DWORD available = 0;
        if (!::PeekNamedPipe(in, nullptr, 0, nullptr, &available, nullptr)) {
            DWORD code = ::GetLastError();
            if (closed_pipe(code)) return 0;
            break;  // not a pipe (a file or a console): a plain read
        }
        if (available > 0) {
            size = std::min<std::size_t>(size, available);
            break;
        }
        if (timeout_ms >= 0 && ::GetTickCount64() >= deadline) return std::nullopt;
        ::Sleep(pause);
        pause = pause < 10 ? pause + 1 : 10;
    }
    DWORD got = 0;
    if (!::ReadFile(in, buffer, clamp(size), &got, nullptr)) {
        DWORD code = ::GetLastError();
        if (closed_pipe(code)) return 0;
        throw PipeError(why("ReadFile", code));
    }
    return static_cast<std::size_t>(got);
}

void write_stdout(const char* data, std::size_t size) {
    write_handle(::GetStdHandle(STD_OUTPUT_HANDLE), data, size);
}

std::vector<std::string> arguments(int argc, char** argv) {
    // argv holds the command line in the ANSI code page, which cannot say
    // every name; the UTF-16 command line can.
    int count = 0;
    wchar_t** wide = ::CommandLineToArgvW(::GetCommandLineW(), &count);
    std::vector<std::string> out;
    if (!wide) {
        out.assign(argv, argv + argc);
        return out;
    }
    for (int i = 0; i < count; ++i) out.push_back(narrow(wide[i], std::wcslen(wide[i])));
    ::LocalFree(wide);
    return out;
}

void* load_library(const std::string& name, std::string& error) {
    HMODULE library = ::LoadLibraryW(widen(name).c_str());
    if (!library) error = name + ": " + message(::GetLastError());
    return reinterpret_cast<void*>(library);
}

void* library_symbol(void* library, const std::string& name) {
    return reinterpret_cast<void*>(::GetProcAddress(static_cast<HMODULE>(library), name.c_str()));
}

void prepare_standard_streams() {
    // Archives go through stdin and stdout (apply -, pack -o -): no CR/LF
    // translation. The console shows UTF-8 text as UTF-8.
    _setmode(_fileno(stdin), _O_BINARY);
    _setmode(_fileno(stdout), _O_BINARY);
    ::SetConsoleOutputCP(CP_UTF8);
}

}  // namespace exmsync::platform
