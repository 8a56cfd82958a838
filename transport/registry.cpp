// The scheme table: which backend opens which URL, and URL redaction.
#include <algorithm>
#include <cctype>
#include <optional>

#include "transport/local.hpp"
#ifdef EXMSYNC_WITH_SSH
#include "transport/ssh.hpp"
#endif
#ifdef EXMSYNC_WITH_SMB
#include "transport/smb.hpp"
#endif
#include "transport/transport.hpp"

namespace exmsync::transport {
namespace {

// `url` is the whole URL (for messages), `rest` what follows "scheme://".
using Factory = std::unique_ptr<Transport> (*)(const std::string& url, const std::string& rest,
                                               const OpenOptions& options);

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    const char lower = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return lower >= 'a' && lower <= 'f' ? lower - 'a' + 10 : -1;
}

std::string percent_decode(const std::string& url, const std::string& text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out += text[i];
            continue;
        }
        const int high = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
        const int low = high >= 0 ? hex_value(text[i + 2]) : -1;
        if (low < 0 || (high == 0 && low == 0)) {
            throw Error("target " + redact_url(url) + ": bad %-escape in the path; write '%' as %25");
        }
        out += static_cast<char>(high * 16 + low);
        i += 2;
    }
    return out;
}

// The same advice wherever a location cannot be reached from here, so that
// no message sends the user on to another that cannot help either.
const char* const kMountAdvice =
    "mount the server's share or folder on this machine (mount -t cifs, sshfs) and give the folder under the mount "
    "point, or reach the server by ssh (ssh://user@server/C:/inetpub/...)";

// file:///abs/path or file://localhost/abs/path. Another host is refused:
// it would need a share mounted first, so say so instead of guessing.
boost::filesystem::path file_url_path(const std::string& url, const std::string& rest) {
    const auto slash = rest.find('/');
    std::string host = rest.substr(0, slash);
    std::transform(host.begin(), host.end(), host.begin(), [](unsigned char c) { return std::tolower(c); });
    if (slash == std::string::npos || (!host.empty() && host != "localhost"))
        throw Error("'" + redact_url(url) + "': a file:// URL must name a folder on this machine (file:///path); " +
                    kMountAdvice);
    std::string path = percent_decode(url, rest.substr(slash));
    // file:///C:/inetpub/... names the drive's folder, not "/C:/...".
    if (path.size() >= 3 && path[0] == '/' && std::isalpha(static_cast<unsigned char>(path[1])) && path[2] == ':')
        path.erase(0, 1);
    return path;
}

std::unique_ptr<Transport> open_file_url(const std::string& url, const std::string& rest, const OpenOptions&) {
    return make_local_transport(file_url_path(url, rest));
}

#ifdef EXMSYNC_WITH_SSH
std::unique_ptr<Transport> open_ssh(const std::string& url, const std::string&, const OpenOptions& options) {
    return open_sftp(url, options.ssh);
}
#else
std::unique_ptr<Transport> open_ssh(const std::string& url, const std::string&, const OpenOptions&) {
    throw Error("'" + redact_url(url) + "': this build has no SFTP (no libssh); give --rsh ssh to reach the server "
                "through this machine's OpenSSH client, with exmsync installed on the server");
}
#endif

#ifndef EXMSYNC_WITH_SMB
std::unique_ptr<Transport> not_built(const std::string& url, const std::string&, const OpenOptions&) {
    const std::string scheme = url.substr(0, url.find("://"));
#ifdef _WIN32
    throw Error("'" + redact_url(url) + "': " + scheme +
                ":// is not built on Windows; give the share as a UNC path (\\\\server\\share\\folder)");
#else
    throw Error("'" + redact_url(url) + "': " + scheme + ":// is not supported by this build yet; " + kMountAdvice);
#endif
}
#endif

#ifdef EXMSYNC_WITH_SMB
std::unique_ptr<Transport> open_smb_url(const std::string& url, const std::string&, const OpenOptions& options) {
    return open_smb(url, options.smb);
}
#endif

}  // namespace

std::optional<int> run_smb_lister() {
#ifdef EXMSYNC_WITH_SMB
    return serve_smb_lister();
#else
    return std::nullopt;
#endif
}

namespace {

struct Scheme {
    const char* name;
    Factory open;
};

// One row per scheme. smb is libsmbclient (GPLv3), behind the
// EXMSYNC_WITH_SMB option; without it the scheme is known but refused.
constexpr Scheme kSchemes[] = {
    {"file", open_file_url},
    {"ssh", open_ssh},
#ifdef EXMSYNC_WITH_SMB
    {"smb", open_smb_url},
#else
    {"smb", not_built},
#endif
};

// The lower-cased scheme of `text` ("" when it is not scheme://...).
std::string scheme_of(const std::string& text) {
    const auto end = text.find("://");
    if (end == std::string::npos || end == 0 || !std::isalpha(static_cast<unsigned char>(text[0]))) return "";
    std::string scheme = text.substr(0, end);
    for (char& c : scheme) {
        const auto byte = static_cast<unsigned char>(c);
        if (!std::isalnum(byte) && c != '+' && c != '-' && c != '.') return "";
        c = static_cast<char>(std::tolower(byte));
    }
    return scheme;
}

boost::filesystem::path plain_path(std::string path) {
#ifndef _WIN32
    // Linux would read \\server\share as the local folder /server/share,
    // and C:\inetpub as a relative folder named "C:", and write there.
    if (path.rfind("\\\\", 0) == 0 || (path.rfind("//", 0) == 0 && path.size() > 2 && path[2] != '/'))
        throw Error("'" + path + "' is a Windows share path, which this system cannot open by name; " + kMountAdvice);
    if (path.size() >= 2 && std::isalpha(static_cast<unsigned char>(path[0])) && path[1] == ':' &&
        (path.size() == 2 || path[2] == '\\' || path[2] == '/'))
        throw Error("'" + path + "' is a Windows drive path, which this system cannot reach; " + kMountAdvice);
    std::replace(path.begin(), path.end(), '\\', '/');  // '\' and '/' alike in user input
#endif
    return path;
}

}  // namespace

std::optional<boost::filesystem::path> local_location(const std::string& url_or_path) {
    if (url_or_path.empty()) throw Error("no folder given; pass a folder path or a URL");
    const std::string scheme = scheme_of(url_or_path);
    if (scheme.empty()) return plain_path(url_or_path);
    if (scheme == "file") return file_url_path(url_or_path, url_or_path.substr(7));
    for (const Scheme& entry : kSchemes)
        if (scheme == entry.name) return std::nullopt;
    throw Error("'" + redact_url(url_or_path) + "': unknown scheme " + scheme +
                "://; give a folder path or a file:// URL");
}

std::unique_ptr<Transport> open_transport(const std::string& url_or_path, const OpenOptions& options) {
    if (url_or_path.empty()) throw Error("no target given; pass a folder path or a URL");
    const std::string scheme = scheme_of(url_or_path);
    if (scheme.empty()) return make_local_transport(plain_path(url_or_path));
    for (const Scheme& entry : kSchemes) {
        if (scheme == entry.name) {
            return entry.open(url_or_path, url_or_path.substr(scheme.size() + 3), options);
        }
    }
    throw Error("'" + redact_url(url_or_path) + "': unknown scheme " + scheme +
                "://; give a folder path or a file:// URL");
}

std::string redact_url(const std::string& url) {
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string::npos) return url;
    const auto start = scheme_end + 3;
    const auto limit = url.find_first_of("?#", start);  // userinfo ends before any query
    const auto first_at = url.find('@', start);
    if (first_at == std::string::npos || first_at >= limit) return url;
    // The password runs from the user's ':' to the LAST '@', since an
    // unescaped password may itself hold '@' or '/'.
    const auto colon = url.find(':', start);
    if (colon == std::string::npos || colon > first_at) return url;
    const auto last_at = url.rfind('@', limit == std::string::npos ? std::string::npos : limit - 1);
    return url.substr(0, colon + 1) + "***" + url.substr(last_at);
}

}  // namespace exmsync::transport
