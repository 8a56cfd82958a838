// The parts of SSH targets that need no SSH library: the URL and the
// quoting of remote commands. --rsh uses them in a build without libssh.
#include <algorithm>
#include <cctype>

#include "transport/ssh_session.hpp"

namespace exmsync::transport {
namespace {

bool is_digits(const std::string& s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

}  // namespace

// ---- the URL ----

SshUrl SshUrl::parse(const std::string& url) {
    const std::string shown = redact_url(url);
    auto bad = [&](const std::string& why) { return Error("'" + shown + "': " + why); };
    if (url.rfind("ssh://", 0) != 0) throw bad("not an ssh:// URL");
    std::string rest = url.substr(6);
    auto slash = rest.find('/');
    if (slash == std::string::npos || slash + 1 >= rest.size())
        throw bad("no path on the server; write ssh://[user@]host[:port]/path/to/Website");
    std::string authority = rest.substr(0, slash);
    SshUrl out;
    out.path = rest.substr(slash);
    auto at = authority.rfind('@');
    if (at != std::string::npos) {
        out.user = authority.substr(0, at);
        authority = authority.substr(at + 1);
        if (out.user.find(':') != std::string::npos)
            throw bad("a password in the URL is refused; use a key or the ssh-agent");
    }
    // [v6]:port or host:port
    if (!authority.empty() && authority.front() == '[') {
        auto close = authority.find(']');
        if (close == std::string::npos) throw bad("unclosed '[' in the host");
        out.host = authority.substr(1, close - 1);
        authority = authority.substr(close + 1);
        if (!authority.empty() && authority.front() != ':') throw bad("junk after the host");
        if (!authority.empty()) authority = authority.substr(1);
    } else {
        auto colon = authority.find(':');
        out.host = authority.substr(0, colon);
        authority = colon == std::string::npos ? "" : authority.substr(colon + 1);
    }
    if (!authority.empty()) {
        if (!is_digits(authority) || std::stoi(authority) < 1 || std::stoi(authority) > 65535)
            throw bad("bad port '" + authority + "'");
        out.port = std::stoi(authority);
    }
    if (out.host.empty()) throw bad("no host");
    // /C:/inetpub/... is a Windows OpenSSH path: the drive, not a folder "C:".
    if (out.path.size() >= 3 && std::isalpha(static_cast<unsigned char>(out.path[1])) && out.path[2] == ':')
        out.path = out.path.substr(1);
    while (out.path.size() > 1 && out.path.back() == '/') out.path.pop_back();
    return out;
}

std::string SshUrl::text() const {
    std::string out = "ssh://" + (user.empty() ? "" : user + "@") + host;
    if (port != 22) out += ":" + std::to_string(port);
    return out + (windows_path() ? "/" : "") + path;
}

bool SshUrl::windows_path() const { return path.size() >= 2 && path[1] == ':'; }

// ---- quoting ----

std::string remote_command(const std::vector<std::string>& argv, bool windows) {
    std::string out;
    for (const auto& arg : argv) {
        if (!out.empty()) out += ' ';
        if (windows) {
            // cmd.exe gives these a meaning even inside quotes: refuse rather
            // than hope.
            if (arg.find_first_of("\"%!^&|<>\r\n") != std::string::npos)
                throw Error("'" + arg + "' holds a character cmd.exe would interpret (\" % ! ^ & | < >); rename "
                            "the folder on the server");
            out += '"' + arg + '"';
        } else {
            out += '\'';
            for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
            out += '\'';
        }
    }
    return out;
}

}  // namespace exmsync::transport
