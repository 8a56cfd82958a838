#include "transport/smb.hpp"

// libsmbclient's API is POSIX's: struct stat, struct statvfs, struct
// timeval and the O_ flags come with its header (smb_library.hpp).
#include <algorithm>
#include <boost/filesystem/operations.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "platform/files.hpp"
#include "platform/process.hpp"
#include "transport/path.hpp"
#include "transport/smb_library.hpp"
#include "transport/smb_lister.hpp"

namespace exmsync::transport {
namespace {

constexpr std::size_t kVerifiedFolders = 4096;
// Names of listed folders kept to tell a name's exact case (exact_stat), at
// most this many in all, each listing trusted this long: bounded memory, and
// a short window for a change made by someone else to go unseen.
constexpr std::size_t kCachedNames = 50'000;
constexpr auto kNamesFresh = std::chrono::seconds(2);
constexpr std::size_t kChunk = 1 << 20;

// "a/b/c" -> {"a/b", "c"}; a top-level name has the parent "".
std::pair<std::string, std::string> parent_and_name(const std::string& path) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos) return {"", path};
    return {path.substr(0, slash), path.substr(slash + 1)};
}
const smbc::Library& api() { return smbc::library(); }

// A file held open by IIS or an antivirus (a sharing violation, EBUSY) is
// retried this long before the step fails naming it.
constexpr auto kBusyRetryFor = std::chrono::seconds(5);
constexpr auto kBusyPause = std::chrono::milliseconds(250);
constexpr unsigned kAttrDirectory = 0x10;
constexpr unsigned kAttrReparsePoint = 0x400;

// Debian's libsmbclient is built without smbc_thread_posix, so its talloc
// stack frames and loadparm globals are shared by all threads: one lock for
// every call into it. Recursive because a Writer's commit calls back into
// its Transport.
std::recursive_mutex& library_lock() {
    static std::recursive_mutex m;
    return m;
}
int live_contexts = 0;  // under library_lock(); at 0 libsmbclient forgets its config

// libsmbclient logs to stdout by default, which would corrupt --json; its
// last line per thread explains a failed connection.
thread_local std::string last_library_message;
void library_log(void*, int, const char* message) {
    if (!message) return;
    std::string text = message;
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    if (text.find("NT_STATUS_") != std::string::npos || text.find("ncrypt") != std::string::npos)
        last_library_message = text;
}

// The client settings exmsync needs, whatever ~/.smb/smb.conf or
// /etc/samba/smb.conf say: libsmbclient reads those when its first context
// is made, and loading this file afterwards resets every global to Samba's
// default first, then applies these.
const char* const kClientConfig =
    "[global]\n"
    "  client min protocol = SMB3_00\n"
    "  client max protocol = SMB3_11\n"
    // No session without a session key: a guest or anonymous session cannot sign.
    "  client signing = required\n"
    "  client ipc signing = required\n"
    "  client use spnego = yes\n"
    "  client ntlmv2 auth = yes\n"
    "  client lanman auth = no\n"
    "  client plaintext auth = no\n"
    "  name resolve order = host\n"
    "  log level = 0\n";

void load_client_config(SMBCCTX* ctx) {
    const auto dir = boost::filesystem::temp_directory_path();
    // Created exclusively under a name nobody can guess, so no one else's
    // file or link is written through.
    const std::string path = (dir / boost::filesystem::unique_path("exmsync-smb-%%%%-%%%%-%%%%-%%%%")).string();
    platform::Error error;
    std::FILE* file = platform::create_c_file(path, error);
    if (!file) throw Error("cannot write exmsync's SMB client settings in " + dir.string() + ": " + error.text());
    const std::string text = kClientConfig;
    bool written = std::fwrite(text.data(), 1, text.size(), file) == text.size();
    written = std::fclose(file) == 0 && written;
    int rc = written ? api().smbc_setConfiguration(ctx, path.c_str()) : -1;
    boost::system::error_code ignored;
    boost::filesystem::remove(path, ignored);
    if (rc != 0) throw Error("cannot load exmsync's SMB client settings (libsmbclient refused them)");
    // Command-line level in Samba's loadparm: nothing loaded later overrides it.
    if (!api().smbc_setOptionProtocols(ctx, "SMB3_00", "SMB3_11"))
        throw Error("this libsmbclient cannot be limited to SMB3; refusing to connect with older dialects");
}

std::string percent_encode(const std::string& text) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        if (std::isalnum(byte) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~') out += c;
        else {
            out += '%';
            out += hex[byte >> 4];
            out += hex[byte & 15];
        }
    }
    return out;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

// What the user typed, split. The path keeps its '/' separators.
struct SmbUrl {
    std::string domain, user, host, share, path;
    int port = 0;
};

SmbUrl parse_url(const std::string& url) {
    const std::string shown = redact_url(url);
    auto bad = [&](const std::string& why) -> Error {
        return Error("target " + shown + ": " + why + "; write smb://[domain;]user@host[:port]/share/folder");
    };
    std::string rest = url.substr(url.find("://") + 3);
    SmbUrl out;
    const auto slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    const auto at = authority.rfind('@');
    if (at != std::string::npos) {
        std::string userinfo = authority.substr(0, at);
        authority = authority.substr(at + 1);
        if (userinfo.find(':') != std::string::npos)
            throw Error("target " + shown + ": a password in the URL is refused (it would show in process lists "
                        "and logs); put it in a credentials file given with --smb-credentials (mode 600), or in "
                        "EXMSYNC_SMB_PASSWORD");
        const auto semi = userinfo.find(';');
        if (semi != std::string::npos) {
            out.domain = userinfo.substr(0, semi);
            userinfo = userinfo.substr(semi + 1);
        }
        out.user = userinfo;
    }
    const auto colon = authority.rfind(':');
    if (colon != std::string::npos && authority.find(']') == std::string::npos) {
        std::string port = authority.substr(colon + 1);
        authority = authority.substr(0, colon);
        if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit) ||
            std::stoi(port) == 0 || std::stoi(port) > 65535)
            throw bad("bad port '" + port + "'");
        out.port = std::stoi(port);
    }
    out.host = authority;
    if (out.host.empty()) throw bad("no server named");
    if (slash == std::string::npos) throw bad("no share named");
    std::string path = rest.substr(slash + 1);
    if (path.find_first_of("?#") != std::string::npos) throw bad("'?' and '#' must be written %3F and %23");
    std::string decoded;
    for (std::size_t i = 0; i < path.size(); ++i) {
        if (path[i] != '%') {
            decoded += path[i];
            continue;
        }
        const int high = i + 2 < path.size() ? hex_value(path[i + 1]) : -1;
        const int low = high >= 0 ? hex_value(path[i + 2]) : -1;
        if (low < 0 || (high == 0 && low == 0)) throw bad("bad %-escape in the path (write '%' as %25)");
        decoded += static_cast<char>(high * 16 + low);
        i += 2;
    }
    while (!decoded.empty() && decoded.back() == '/') decoded.pop_back();
    const auto share_end = decoded.find('/');
    out.share = decoded.substr(0, share_end);
    if (out.share.empty()) throw bad("no share named");
    if (share_end != std::string::npos) {
        out.path = decoded.substr(share_end + 1);
        split_path(shown, out.path);  // no "..", "." or empty component
    }
    return out;
}

struct Credentials {
    std::string user, password, domain;
};

// mount.cifs' format: key=value lines; "user" and "pass" as it also takes them.
Credentials read_credentials(const std::string& target, const std::string& file) {
    platform::Access access;
    if (auto error = platform::access_of(file, access))
        throw Error("target " + target + ": cannot read the credentials file " + file + ": " + error.text());
    if (access.kind != platform::Kind::File)
        throw Error("target " + target + ": credentials file " + file + " is not a file");
    if ((access.mode & 077) != 0) {
        char mode[16];
        std::snprintf(mode, sizeof mode, "%04o", access.mode & 07777u);
        throw Error("target " + target + ": credentials file " + file + " is readable by others (mode " + mode +
                    "); make it readable by its owner only: chmod 600 " + file);
    }
    if (!access.mine)
        throw Error("target " + target + ": credentials file " + file +
                    " belongs to another user; use a file of your own (chmod 600)");
    std::ifstream in(file);
    if (!in) throw Error("target " + target + ": cannot read the credentials file " + file);
    Credentials c;
    for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        const auto eq = line.find('=');
        if (eq == std::string::npos) continue;
        std::string key = line.substr(0, eq);
        key.erase(0, key.find_first_not_of(" \t"));
        key.erase(key.find_last_not_of(" \t") + 1);
        std::string value = line.substr(eq + 1);
        if (key == "username" || key == "user") c.user = value;
        else if (key == "password" || key == "pass") c.password = value;
        else if (key == "domain" || key == "workgroup") c.domain = value;
    }
    if (c.password.empty()) throw Error("target " + target + ": credentials file " + file + " has no password= line");
    return c;
}

Stat stat_from(const struct stat& st) {
    Stat out;
    out.kind = S_ISDIR(st.st_mode) ? Kind::Directory : S_ISREG(st.st_mode) ? Kind::File : Kind::Other;
    out.size = out.kind == Kind::File ? static_cast<std::uint64_t>(st.st_size) : 0;
    out.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    return out;
}

class SmbTransport;

class SmbReader final : public Reader {
public:
    SmbReader(SmbTransport& owner, SMBCFILE* file, std::string path)
        : owner_(owner), file_(file), path_(std::move(path)) {}
    ~SmbReader() override;
    std::size_t read(char* buffer, std::size_t size) override;

private:
    SmbTransport& owner_;
    SMBCFILE* file_;
    std::string path_;
};

class SmbWriter final : public Writer {
public:
    SmbWriter(SmbTransport& owner, SMBCFILE* file, std::string path)
        : owner_(owner), file_(file), path_(std::move(path)) {}
    ~SmbWriter() override;
    void write(const char* data, std::size_t size) override;
    void commit(Flush flush) override;
    void set_mtime_on_commit(std::int64_t mtime_ns) override {
        if (!file_) throw Error("internal: set_mtime_on_commit after commit of " + path_);
        mtime_ns_ = mtime_ns;
    }

private:
    SmbTransport& owner_;
    SMBCFILE* file_;
    std::string path_;
    std::uint64_t written_ = 0;
    std::optional<std::int64_t> mtime_ns_;
};

// A staged file written by one of the lister's workers (create_staged): its
// content goes down the worker's pipe in chunks, and the worker's answer
// comes by flush_all().
class SmbStagedWriter final : public Writer {
public:
    SmbStagedWriter(SmbLister& lister, std::uint32_t id, std::string path)
        : lister_(lister), id_(id), path_(std::move(path)) {}
    ~SmbStagedWriter() override {
        if (done_) return;
        try {
            lister_.upload_send(id_, buffer_.data(), 0, SmbLister::UploadEnd{false, std::nullopt});
        } catch (...) {
            // Left partly written in staging, which the apply removes.
        }
    }
    void write(const char* data, std::size_t size) override {
        if (done_) throw Error("internal: write after commit of " + path_);
        buffer_.append(data, size);
        if (buffer_.size() >= kChunk) send(std::nullopt);
    }
    void commit(Flush) override {
        if (done_) throw Error("internal: " + path_ + " committed twice");
        done_ = true;
        send(SmbLister::UploadEnd{true, mtime_ns_});
    }
    void set_mtime_on_commit(std::int64_t mtime_ns) override {
        if (done_) throw Error("internal: set_mtime_on_commit after commit of " + path_);
        mtime_ns_ = mtime_ns;
    }

private:
    // A small template goes to the worker in one write, with its create and
    // its close.
    static constexpr std::size_t kChunk = 256 * 1024;

    void send(std::optional<SmbLister::UploadEnd> end) {
        lister_.upload_send(id_, buffer_.data(), buffer_.size(), end);
        buffer_.clear();
    }

    SmbLister& lister_;
    std::uint32_t id_;
    std::string path_;
    std::string buffer_;
    std::optional<std::int64_t> mtime_ns_;
    bool done_ = false;
};

class SmbTransport final : public Transport {
public:
    // `given`: the logon of the transport whose lister this is (smb_lister.hpp).
    SmbTransport(const std::string& url, const OpenOptions::Smb& options, const SmbListerLogon* given = nullptr)
        : shown_(redact_url(url)), url_(parse_url(url)), typed_url_(url), options_(options) {
        if (given) {
            url_.user = given->user;
            url_.domain = given->domain;
            password_ = given->password;
        } else if (!options.credentials.empty()) {
            Credentials c = read_credentials(shown_, options.credentials);
            if (!url_.user.empty() && !c.user.empty() && c.user != url_.user)
                throw Error("target " + shown_ + ": the URL names user " + url_.user + " but " + options.credentials +
                            " names " + c.user + "; make them agree");
            if (url_.user.empty()) url_.user = c.user;
            if (url_.domain.empty()) url_.domain = c.domain;
            password_ = c.password;
        } else if (const char* env = std::getenv("EXMSYNC_SMB_PASSWORD"); env && *env) {
            password_ = env;
        } else {
            throw Error("target " + shown_ + ": no password for SMB; pass --smb-credentials FILE (username=, "
                        "password=, domain= lines, chmod 600) or set EXMSYNC_SMB_PASSWORD");
        }
        if (url_.user.empty())
            throw Error("target " + shown_ + ": no SMB user; write smb://user@host/share/folder or put username= "
                        "in the credentials file");
        if (url_.domain.empty()) url_.domain = "WORKGROUP";
        base_ = "smb://" + url_.host + "/" + percent_encode(url_.share);
        root_ = url_.path;

        std::lock_guard guard(library_lock());
        if (live_contexts == 0) {
            // A fresh libsmbclient (re)reads the user's config when this
            // context is made: replace it before anything connects.
            ctx_ = api().smbc_new_context();
            if (!ctx_) throw Error("target " + shown_ + ": cannot start libsmbclient: " + std::strerror(errno));
            api().smbc_setLogCallback(ctx_, nullptr, library_log);
            api().smbc_setOptionDebugToStderr(ctx_, 1);
            try {
                load_client_config(ctx_);
            } catch (const Error& e) {
                api().smbc_free_context(ctx_, 1);
                throw Error("target " + shown_ + ": " + e.what());
            }
        } else {
            ctx_ = api().smbc_new_context();
            if (!ctx_) throw Error("target " + shown_ + ": cannot start libsmbclient: " + std::strerror(errno));
        }
        ++live_contexts;
        api().smbc_setOptionUserData(ctx_, this);
        api().smbc_setFunctionAuthDataWithContext(ctx_, &SmbTransport::auth);
        api().smbc_setOptionNoAutoAnonymousLogin(ctx_, 1);
        api().smbc_setOptionUseKerberos(ctx_, 0);
        api().smbc_setOptionFallbackAfterKerberos(ctx_, 0);
        api().smbc_setOptionUseCCache(ctx_, 0);
        api().smbc_setOptionCaseSensitive(ctx_, 1);
        api().smbc_setOptionUrlEncodeReaddirEntries(ctx_, 0);
        api().smbc_setOptionSmbEncryptionLevel(ctx_,
                                         options.require_encryption ? SMBC_ENCRYPTLEVEL_REQUIRE : SMBC_ENCRYPTLEVEL_NONE);
        api().smbc_setTimeout(ctx_, 30'000);
        if (url_.port) api().smbc_setPort(ctx_, static_cast<uint16_t>(url_.port));
        if (!api().smbc_init_context(ctx_)) {
            int e = errno;
            release();
            throw Error("target " + shown_ + ": cannot start libsmbclient: " + std::strerror(e));
        }
        try {
            connect(options.require_encryption);
        } catch (...) {
            release();
            throw;
        }
    }

    ~SmbTransport() override {
        std::lock_guard guard(library_lock());
        release();
    }

    std::string describe() const override { return shown_; }

    std::optional<Stat> stat(const std::string& path) override {
        std::lock_guard guard(library_lock());
        const auto parts = split_path(shown_, path);
        if (parts.empty()) return raw_stat("").value();
        if (!folders_ok(parts, parts.size() - 1, "stat", path, true)) return std::nullopt;
        return exact_stat(path);
    }

    std::vector<DirEntry> list(const std::string& dir) override {
        settle_staged();
        std::unique_lock guard(library_lock());
        const auto parts = split_path(shown_, dir);
        folders_ok(parts, parts.size(), "list", dir, false);
        std::optional<std::vector<DirEntry>> entries;
        if (lister_ && lister_->has(dir)) {
            // The lister's workers have connections of their own: other
            // SMB targets of this push may use the library meanwhile.
            guard.unlock();
            entries = lister_->take(dir);
            guard.lock();
        }
        // Whatever the lister could not list, this connection lists, and
        // reports as it always did.
        if (!entries) entries = list_folder(dir, "list");
        remember(dir, *entries);
        return std::move(*entries);
    }

    // A scan of many folders has them listed by the lister's workers, a few
    // at once (smb_lister.hpp). A small tree is not worth their logons.
    void list_ahead(const std::vector<std::string>& dirs) override {
        if (options_.lister_program.empty()) return;
        hinted_ += dirs.size();
        if (!lister_ && hinted_ < kListerAfter) return;
        start_lister();
        lister_->want(dirs);
    }

    void start_lister() {
        if (lister_) return;
        SmbListerLogon logon{typed_url_, url_.user, url_.domain, password_, options_.require_encryption};
        lister_ = std::make_unique<SmbLister>(options_.lister_program, logon, SmbLister::kWorkers);
    }

    // Waits for the staged files the workers are writing, before anything
    // that could move, remove or read them; their failures wait for
    // flush_all().
    void settle_staged() {
        if (!lister_) return;
        for (auto& failure : lister_->settle())
            staged_failures_.push_back(!failure.error.empty()
                                           ? failure.error
                                           : where("write", failure.path) +
                                                 "the connection of the worker writing it was lost; push again");
    }

    // The worker's side of staging: the transport that asks for a file has
    // checked every folder on its way (create_staged), so the worker does
    // not spend requests on them again.
    void trust_folders_of(const std::string& path) {
        const auto parts = split_path(shown_, path);
        std::string prefix;
        for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
            prefix += (i ? "/" : "") + parts[i];
            remember_verified(prefix);
        }
    }

    // The worker's side of the lister: a folder's listing as the server gives it.
    std::vector<DirEntry> list_for_lister(const std::string& dir) {
        std::lock_guard guard(library_lock());
        return list_folder(dir, "list");
    }

    std::string read_link(const std::string& path) override {
        settle_staged();
        std::lock_guard guard(library_lock());
        located(path, "read the link");
        auto st = exact_stat(path);
        if (!st) throw NotFound(where("read the link", path) + "it does not exist");
        throw Error(where("read the link", path) +
                    (st->kind == Kind::Symlink ? "exmsync cannot read a reparse point's target over SMB"
                                               : "it is not a symlink"));
    }

    std::unique_ptr<Reader> open_read(const std::string& path) override {
        settle_staged();
        std::lock_guard guard(library_lock());
        located(path, "read");
        auto st = exact_stat(path);
        if (!st) throw NotFound(where("read", path) + "it does not exist");
        if (st->kind != Kind::File)
            throw Error(where("read", path) + (st->kind == Kind::Symlink ? "it is a symlink or junction, and exmsync "
                                                                           "never goes through a link on a target"
                                                                         : "it is not a regular file"));
        SMBCFILE* file = retry_busy([&] { return api().smbc_getFunctionOpen(ctx_)(ctx_, url(path).c_str(), O_RDONLY, 0); });
        if (!file) fail("read", path);
        return std::make_unique<SmbReader>(*this, file, path);
    }

    std::unique_ptr<Writer> create(const std::string& path) override {
        std::lock_guard guard(library_lock());
        located(path, "create");
        changed();
        // Read as well as write: the size is checked on this handle at commit
        // (an SMB handle opened for writing only may not query its attributes).
        SMBCFILE* file = retry_busy(
            [&] { return api().smbc_getFunctionOpen(ctx_)(ctx_, url(path).c_str(), O_RDWR | O_CREAT | O_EXCL, 0644); });
        if (!file) {
            int e = errno;
            if (e == EEXIST || raw_stat(path)) throw AlreadyExists(where("create", path) + "something is already there");
            errno = e;
            fail("create", path);
        }
        ++open_writers_;
        note_entry(path, Kind::File);
        return std::make_unique<SmbWriter>(*this, file, path);
    }

    // Staged files go to the lister's workers, once a few have been written
    // here (a small change is not worth their logons) or the lister runs
    // anyway. The worker creates, writes, closes and dates the file on its
    // own connection; what it met is told by flush_all().
    std::unique_ptr<Writer> create_staged(const std::string& path) override {
        std::lock_guard guard(library_lock());
        if (options_.lister_program.empty() || (!lister_ && ++staged_here_ < kListerAfter)) return create(path);
        located(path, "create");
        start_lister();
        auto id = lister_->upload_begin(path);
        if (!id) return create(path);  // no worker left
        changed();
        note_entry(path, Kind::File);
        return std::make_unique<SmbStagedWriter>(*lister_, *id, path);
    }

    void rename(const std::string& from, const std::string& to) override {
        settle_staged();
        std::lock_guard guard(library_lock());
        located(from, "rename");
        located(to, "rename to");
        const Kind source = existing_kind(from, "rename");
        // libsmbclient answers a taken name by deleting it and renaming
        // again: look first, with the server's own case rules, so that a
        // case variant is never deleted either. Only the same entry under
        // another case (a case-only rename on a case-insensitive share) may
        // be there.
        if (auto there = raw_stat(to)) {
            if (!same_entry_other_case(from, to))
                throw AlreadyExists(where("rename " + quote_path(from) + " to", to) + "something is already there");
        }
        changed();
        int rc = retry_busy_rc([&] {
            return api().smbc_getFunctionRename(ctx_)(ctx_, url(from).c_str(), ctx_, url(to).c_str());
        });
        if (rc != 0) {
            if (errno == EEXIST) throw AlreadyExists(where("rename " + quote_path(from) + " to", to) + "it exists");
            if (errno == ENOENT && !raw_stat(from)) {
                note_entry(from, std::nullopt);
                throw NotFound(where("rename", from) + "it does not exist");
            }
            fail("rename " + quote_path(from) + " to", to);
        }
        forget(from);
        forget_names(from, true);
        note_entry(from, std::nullopt);
        note_entry(to, source);
    }

    void remove(const std::string& path) override {
        settle_staged();
        std::lock_guard guard(library_lock());
        located(path, "remove");
        const Kind kind = existing_kind(path, "remove");
        changed();
        int rc = retry_busy_rc([&] {
            return kind == Kind::Directory ? api().smbc_getFunctionRmdir(ctx_)(ctx_, url(path).c_str())
                                           : api().smbc_getFunctionUnlink(ctx_)(ctx_, url(path).c_str());
        });
        if (rc != 0) {
            if (kind == Kind::Directory && (errno == EEXIST || errno == ENOTEMPTY))
                throw Error(where("remove", path) + "the folder is not empty");
            if (errno == ENOENT) throw NotFound(where("remove", path) + "it does not exist");
            fail("remove", path);
        }
        forget(path);
        forget_names(path, true);
        note_entry(path, std::nullopt);
    }

    void mkdir(const std::string& path) override {
        std::lock_guard guard(library_lock());
        located(path, "create folder");
        changed();
        if (api().smbc_getFunctionMkdir(ctx_)(ctx_, url(path).c_str(), 0755) != 0) {
            int e = errno;
            if (e == EEXIST || raw_stat(path))
                throw AlreadyExists(where("create folder", path) + "something is already there");
            errno = e;
            fail("create folder", path);
        }
        note_entry(path, Kind::Directory);
        remember_verified(path);  // made here, so a real folder: no request to check it again
    }

    void set_mtime(const std::string& path, std::int64_t mtime_ns) override {
        settle_staged();
        std::lock_guard guard(library_lock());
        located(path, "set the time of");
        auto st = exact_stat(path);
        if (!st) throw NotFound(where("set the time of", path) + "it does not exist");
        if (st->kind == Kind::Symlink)
            throw Error(where("set the time of", path) + "it is a symlink or junction, and SMB would set its target's");
        set_mtime_of(path, mtime_ns);
    }

    void flush_dir(const std::string& dir) override {
        settle_staged();
        std::lock_guard guard(library_lock());
        const auto parts = split_path(shown_, dir);
        folders_ok(parts, parts.size(), "flush", dir, false);
        flush_all();
    }

    // Nothing to push: every write was acknowledged and every file closed
    // by the time its commit() returned. What is left is to make sure the
    // server still answers, so that a connection lost after the last
    // acknowledged request is an error here and not a silent success.
    void flush_all() override {
        settle_staged();
        std::lock_guard guard(library_lock());
        if (!staged_failures_.empty()) {
            std::string first = staged_failures_.front();
            const std::size_t more = staged_failures_.size() - 1;
            staged_failures_.clear();
            throw Error(first + (more ? " (and " + std::to_string(more) + " more staged files failed)" : ""));
        }
        if (open_writers_ != 0)
            throw Error("target " + shown_ + ": cannot flush: " + std::to_string(open_writers_) +
                        " files are still being written (internal)");
        struct stat st {};
        if (api().smbc_getFunctionStat(ctx_)(ctx_, url("").c_str(), &st) != 0) fail("flush", "");
    }

    Capabilities capabilities() const override {
        Capabilities c;
        c.no_replace_rename = false;
        c.rename_may_leave_both = false;
        c.file_identity = false;
        c.mtime_resolution_ns = 1000;
        c.folder_flush = false;
        c.durable_flush = false;
        return c;
    }

    std::string removal_problem(const std::string& path) override {
        std::lock_guard guard(library_lock());
        located(path, "check");
        if (!exact_stat(path)) throw NotFound(where("check", path) + "it does not exist");
        return {};  // SMB cannot tell before trying; a refusal is undone by the commit
    }

    std::string creation_problem(const std::string& dir) override {
        std::lock_guard guard(library_lock());
        const auto parts = split_path(shown_, dir);
        folders_ok(parts, parts.size(), "check", dir, false);
        return {};
    }

    std::optional<Space> space() override {
        std::lock_guard guard(library_lock());
        struct statvfs v;
        std::memset(&v, 0, sizeof v);
        std::string u = url("");
        if (api().smbc_getFunctionStatVFS(ctx_)(ctx_, u.data(), &v) != 0) return std::nullopt;
        const std::uint64_t block = v.f_frsize ? v.f_frsize : v.f_bsize;
        if (block == 0) return std::nullopt;
        return Space{static_cast<std::uint64_t>(v.f_bavail) * block,
                     v.f_files == 0 ? UINT64_MAX : static_cast<std::uint64_t>(v.f_favail)};
    }

    // ---- for the Reader and Writer ----

    SMBCCTX* context() const { return ctx_; }
    void writer_closed() { --open_writers_; }

    [[noreturn]] void fail(const std::string& verb, const std::string& path) const {
        const int e = errno;
        std::string message = where(verb, path) + why(e);
        if (e == ENOENT || e == ENOTDIR) throw NotFound(message);
        if (e == EEXIST) throw AlreadyExists(message);
        throw Error(message);
    }

    void set_mtime_of(const std::string& path, std::int64_t mtime_ns) {
        changed();
        struct timeval times[2];
        std::int64_t seconds = mtime_ns / 1'000'000'000, rest = mtime_ns % 1'000'000'000;
        if (rest < 0) {
            --seconds;
            rest += 1'000'000'000;
        }
        times[0].tv_sec = times[1].tv_sec = static_cast<time_t>(seconds);
        times[0].tv_usec = times[1].tv_usec = static_cast<suseconds_t>(rest / 1000);
        if (api().smbc_getFunctionUtimes(ctx_)(ctx_, url(path).c_str(), times) != 0) fail("set the time of", path);
    }

    // Whatever was listed ahead may be out of date now.
    void changed() {
        if (lister_) lister_->forget();
    }

    std::optional<Stat> raw_stat(const std::string& path) {
        struct stat st {};
        if (api().smbc_getFunctionStat(ctx_)(ctx_, url(path).c_str(), &st) == 0) return stat_from(st);
        if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
        fail("stat", path);
    }

    std::string url(const std::string& path) const {
        std::string full = root_.empty() ? path : path.empty() ? root_ : root_ + "/" + path;
        return full.empty() ? base_ : base_ + "/" + percent_encode(full);
    }

    template <class Open>
    SMBCFILE* retry_busy(Open open) {
        const auto until = std::chrono::steady_clock::now() + kBusyRetryFor;
        while (true) {
            SMBCFILE* f = open();
            if (f || errno != EBUSY || std::chrono::steady_clock::now() >= until) return f;
            std::this_thread::sleep_for(kBusyPause);
        }
    }

    template <class Call>
    int retry_busy_rc(Call call) {
        const auto until = std::chrono::steady_clock::now() + kBusyRetryFor;
        while (true) {
            int rc = call();
            if (rc == 0 || errno != EBUSY || std::chrono::steady_clock::now() >= until) return rc;
            std::this_thread::sleep_for(kBusyPause);
        }
    }

private:
    static void auth(SMBCCTX* ctx, const char* server, const char*, char* workgroup, int workgroup_len,
                     char* username, int username_len, char* password, int password_len) {
        auto* self = static_cast<SmbTransport*>(api().smbc_getOptionUserData(ctx));
        auto put = [](char* out, int len, const std::string& value) {
            if (len <= 0) return;
            std::snprintf(out, static_cast<std::size_t>(len), "%s", value.c_str());
        };
        // Credentials go to the server of the URL only (a DFS referral to
        // another server gets none, and fails).
        bool ours = self && server && strcasecmp(server, self->url_.host.c_str()) == 0;
        put(workgroup, workgroup_len, ours ? self->url_.domain : "");
        put(username, username_len, ours ? self->url_.user : "");
        put(password, password_len, ours ? self->password_ : "");
    }

    void release() {
        if (!ctx_) return;
        api().smbc_free_context(ctx_, 1);
        ctx_ = nullptr;
        --live_contexts;
    }

    // libsmbclient 4.17 prints "Encryption required and server doesn't
    // support SMB3 encryption - failing connect" on stdout and then connects
    // unencrypted all the same. Its stdout is caught while connecting: the
    // message refuses the target, and nothing corrupts --json.
    static std::string connect_capturing_stdout(const std::function<void()>& call) {
        try {
            return platform::capture_stdout(call);
        } catch (const platform::PipeError& e) {
            throw Error(std::string("cannot catch libsmbclient's output while connecting: ") + e.what());
        }
    }

    // After the first connection, a reconnection (libsmbclient makes one
    // silently when the connection dropped) is refused when encryption is
    // required: it could not be checked as the first one was.
    static int add_cached_server(SMBCCTX* ctx, SMBCSRV* srv, const char* server, const char* share,
                                 const char* workgroup, const char* username) {
        auto* self = static_cast<SmbTransport*>(api().smbc_getOptionUserData(ctx));
        if (!self || !self->add_cached_server_) return 1;
        if (self->require_encryption_ && self->connected_) {
            errno = ECONNRESET;
            return 1;
        }
        return self->add_cached_server_(ctx, srv, server, share, workgroup, username);
    }

    void connect(bool require_encryption) {
        last_library_message.clear();
        require_encryption_ = require_encryption;
        add_cached_server_ = api().smbc_getFunctionAddCachedServer(ctx_);
        api().smbc_setFunctionAddCachedServer(ctx_, &SmbTransport::add_cached_server);
        struct stat st {};
        int rc = 0, e = 0;
        std::string printed = connect_capturing_stdout([&] {
            rc = api().smbc_getFunctionStat(ctx_)(ctx_, base_.c_str(), &st);
            e = errno;
        });
        if (printed.find("Encryption required") != std::string::npos) {
            rc = -1;
            e = EPERM;
            auto end = printed.find('\n');
            last_library_message = printed.substr(0, end);
        } else if (!printed.empty()) {
            std::fwrite(printed.data(), 1, printed.size(), stderr);
        }
        connected_ = true;
        if (rc != 0) {
            std::string detail = last_library_message.empty() ? "" : " (" + last_library_message + ")";
            std::string who = (url_.domain.empty() ? "" : url_.domain + "\\") + url_.user;
            if (e == ENOENT || e == ENODEV)
                throw Error("target " + shown_ + ": the server has no share '" + url_.share +
                            "'; check the share name (smbclient -L " + url_.host + ")");
            if (e == EACCES)
                throw Error("target " + shown_ + ": the server refused the logon of " + who +
                            " or its access to share '" + url_.share + "'" + detail +
                            "; check the password (--smb-credentials or EXMSYNC_SMB_PASSWORD), the user and the "
                            "share's permissions");
            if (e == EPERM && require_encryption)
                throw Error("target " + shown_ + ": --smb-encrypt requires encryption and the server does not offer "
                            "it for share '" + url_.share + "'" + detail +
                            "; enable SMB3 encryption on the server (smb encrypt) or push without --smb-encrypt");
            if (e == ECONNREFUSED || e == ETIMEDOUT || e == EHOSTUNREACH || e == ENETUNREACH)
                throw Error("target " + shown_ + ": cannot connect to " + url_.host +
                            (url_.port ? ":" + std::to_string(url_.port) : "") + " (" + std::strerror(e) +
                            "); check the host, the port and that the server speaks SMB3");
            throw Error("target " + shown_ + ": cannot open share '" + url_.share + "': " + why(e) + detail);
        }
        if (root_.empty()) return;
        auto root = raw_stat("");
        if (!root) throw Error("target " + shown_ + " does not exist; check the folder in the share");
        if (root->kind != Kind::Directory) throw Error("target " + shown_ + " is not a folder; check the path");
    }

    std::string where(const std::string& verb, const std::string& path) const {
        return "target " + shown_ + ": cannot " + verb + " " + quote_path(path) + ": ";
    }

    static std::string why(int e) {
        switch (e) {
            case ENOENT:
            case ENOTDIR: return "no such file or folder";
            case EEXIST: return "something is already there";
            case EACCES:
            case EPERM:
                return "access denied; check the share is not read-only and the account may write there";
            case EROFS: return "the share is read-only";
            case ENOSPC: return "the share is full";
            case EBUSY:
            case ETXTBSY:
                return "the file is held open by another program (sharing violation, IIS or an antivirus); "
                       "retried for 5 s, run again when it is closed";
            case ENOTEMPTY: return "the folder is not empty";
            case ETIMEDOUT:
            case ECONNRESET:
            case ECONNABORTED:
            case EPIPE:
            case ENOTCONN: return std::string("the connection was lost (") + std::strerror(e) + "); run again";
            default: return std::string("the server refused it (") + std::strerror(e) + ")";
        }
    }

    // The folder's entries as the server names them; reparse points
    // (Windows symlinks and junctions) as Symlink.
    std::vector<DirEntry> list_folder(const std::string& dir, const std::string& verb) {
        SMBCFILE* handle = api().smbc_getFunctionOpendir(ctx_)(ctx_, url(dir).c_str());
        if (!handle) fail(verb, dir);
        std::vector<DirEntry> out;
        errno = 0;
        while (true) {
            struct stat st {};
            const struct libsmb_file_info* info = api().smbc_getFunctionReaddirPlus2(ctx_)(ctx_, handle, &st);
            if (!info) break;
            std::string name = info->name ? info->name : "";
            if (name.empty() || name == "." || name == "..") continue;
            DirEntry e{name, stat_from(st)};
            if (info->attrs & kAttrReparsePoint) e.stat.kind = Kind::Symlink;
            else if (info->attrs & kAttrDirectory) e.stat.kind = Kind::Directory;
            if (e.stat.kind != Kind::File) e.stat.size = 0;
            out.push_back(std::move(e));
        }
        api().smbc_getFunctionClosedir(ctx_)(ctx_, handle);
        std::sort(out.begin(), out.end(), [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
        return out;
    }

    // stat to the byte: the server finds names by its own case rules, so a
    // hit is confirmed in the folder's listing under exactly this name. The
    // listing's names are kept a short while (names_), or every stat in a
    // folder of n files would read all n: a commit or a recovery in a large
    // folder would be quadratic. The attributes always come from the server
    // now; a listing that disagrees with them, or that lacks the name, is read
    // again before the answer is given.
    std::optional<Stat> exact_stat(const std::string& path) {
        if (path.empty()) return raw_stat("");
        auto st = raw_stat(path);
        if (!st) return std::nullopt;
        const auto [parent, name] = parent_and_name(path);
        // A reparse point's kind shows only in a listing: those are read again.
        if (listed_kind(path) == st->kind) return st;
        const auto entries = list_folder(parent, "stat");
        remember(parent, entries);
        for (auto& e : entries)
            if (e.name == name) return e.stat;
        return std::nullopt;
    }

    // Keeps a folder's names as a listing just read them.
    void remember(const std::string& dir, const std::vector<DirEntry>& entries) {
        forget_names(dir, false);
        if (entries.size() > kCachedNames) return;
        if (cached_names_ + entries.size() > kCachedNames) {
            names_.clear();
            cached_names_ = 0;
        }
        auto& listing = names_[dir];
        listing.listed = std::chrono::steady_clock::now();
        for (const auto& e : entries) listing.kinds.emplace_hint(listing.kinds.end(), e.name, e.stat.kind);
        cached_names_ += listing.kinds.size();
    }

    // What this transport itself just did to `path` (present with `kind`, or
    // gone), in the kept listing of its folder.
    void note_entry(const std::string& path, std::optional<Kind> kind) {
        const auto [parent, name] = parent_and_name(path);
        auto it = names_.find(parent);
        if (it == names_.end()) return;
        auto& kinds = it->second.kinds;
        if (auto e = kinds.find(name); e != kinds.end()) {
            kinds.erase(e);
            --cached_names_;
        }
        if (kind && cached_names_ < kCachedNames) {
            kinds.emplace(name, *kind);
            ++cached_names_;
        }
    }

    // Drops the kept listing of `dir` and, with `below`, of every folder in it.
    void forget_names(const std::string& dir, bool below) {
        for (auto it = names_.lower_bound(dir); it != names_.end() && it->first.rfind(dir, 0) == 0;) {
            const bool inside = it->first.size() == dir.size() || (below && (dir.empty() || it->first[dir.size()] == '/'));
            if (!inside) {
                ++it;
                continue;
            }
            cached_names_ -= it->second.kinds.size();
            it = names_.erase(it);
        }
    }

    // `to` names `from` itself in another case (the server found it under
    // `to`, and the folder holds no entry named exactly `to`).
    bool same_entry_other_case(const std::string& from, const std::string& to) {
        const auto a = from.rfind('/'), b = to.rfind('/');
        if (from.substr(0, a == std::string::npos ? 0 : a) != to.substr(0, b == std::string::npos ? 0 : b))
            return false;
        std::string x = from.substr(a == std::string::npos ? 0 : a + 1), y = to.substr(b == std::string::npos ? 0 : b + 1);
        if (x == y || x.size() != y.size()) return false;
        for (std::size_t i = 0; i < x.size(); ++i)
            if (std::tolower(static_cast<unsigned char>(x[i])) != std::tolower(static_cast<unsigned char>(y[i])))
                return false;
        return !exact_stat(to);
    }

    bool folders_ok(const std::vector<std::string>& parts, std::size_t count, const std::string& verb,
                    const std::string& path, bool absent_ok) {
        std::string prefix;
        for (std::size_t i = 0; i < count; ++i) {
            prefix += (i ? "/" : "") + parts[i];
            if (verified_.count(prefix)) continue;
            // A folder just listed in its parent needs no request of its own.
            if (listed_kind(prefix) == Kind::Directory) {
                remember_verified(prefix);
                continue;
            }
            auto st = exact_stat(prefix);
            if (!st) {
                if (absent_ok) return false;
                throw NotFound(where(verb, path) + "folder " + quote_path(prefix) + " does not exist");
            }
            if (st->kind == Kind::Symlink)
                throw Error(where(verb, path) + quote_path(prefix) + " is a symlink or junction, and exmsync never "
                            "goes through a link on a target; replace it with a real folder");
            if (st->kind != Kind::Directory) {
                if (absent_ok) return false;
                throw NotFound(where(verb, path) + quote_path(prefix) + " is not a folder");
            }
            remember_verified(prefix);
        }
        return true;
    }

    void remember_verified(const std::string& folder) {
        if (verified_.size() >= kVerifiedFolders) verified_.clear();
        verified_.insert(folder);
    }

    // The kind of `path` in a fresh kept listing of its folder (nullopt: not
    // listed lately, or not there under exactly this name).
    std::optional<Kind> listed_kind(const std::string& path) const {
        const auto [parent, name] = parent_and_name(path);
        auto it = names_.find(parent);
        if (it == names_.end() || std::chrono::steady_clock::now() - it->second.listed >= kNamesFresh)
            return std::nullopt;
        auto e = it->second.kinds.find(name);
        if (e == it->second.kinds.end()) return std::nullopt;
        return e->second;
    }

    // The kind of an entry a change needs: a file or folder that a fresh
    // listing or this transport's own change names is not asked for again
    // (removing a tree, that is a round trip saved per entry), and the
    // change itself fails if it is gone meanwhile. Anything else, a
    // reparse point included, is asked for.
    Kind existing_kind(const std::string& path, const std::string& verb) {
        const auto listed = listed_kind(path);
        if (listed == Kind::File || listed == Kind::Directory) return *listed;
        auto st = exact_stat(path);
        if (!st) throw NotFound(where(verb, path) + "it does not exist");
        return st->kind;
    }

    void located(const std::string& path, const std::string& verb) {
        const auto parts = split_path(shown_, path);
        if (parts.empty()) throw Error(where(verb, path) + "not the root itself; name something inside it");
        folders_ok(parts, parts.size() - 1, verb, path, false);
    }

    void forget(const std::string& path) {
        for (auto it = verified_.lower_bound(path); it != verified_.end() && it->rfind(path, 0) == 0;)
            it = verified_.erase(it);
    }

    // Folders hinted, or files staged, before the lister starts: below this
    // many, a walk or a small change is quicker on this connection alone than
    // with three more logons.
    static constexpr std::size_t kListerAfter = 16;

    std::string shown_;
    SmbUrl url_;
    std::string typed_url_;
    OpenOptions::Smb options_;
    std::unique_ptr<SmbLister> lister_;
    std::size_t hinted_ = 0;
    std::size_t staged_here_ = 0;  // staged files written on this connection
    std::vector<std::string> staged_failures_;  // told by the next flush_all
    std::string password_;
    std::string base_;  // smb://host/share, percent-encoded
    std::string root_;  // the folder in the share, decoded, '/'-separated
    SMBCCTX* ctx_ = nullptr;
    smbc_add_cached_srv_fn add_cached_server_ = nullptr;
    bool require_encryption_ = false;
    bool connected_ = false;
    int open_writers_ = 0;
    std::set<std::string> verified_;
    struct Names {
        std::map<std::string, Kind> kinds;
        std::chrono::steady_clock::time_point listed;
    };
    std::map<std::string, Names> names_;  // by folder; see exact_stat
    std::size_t cached_names_ = 0;
};

SmbReader::~SmbReader() {
    std::lock_guard guard(library_lock());
    api().smbc_getFunctionClose(owner_.context())(owner_.context(), file_);
}

std::size_t SmbReader::read(char* buffer, std::size_t size) {
    std::lock_guard guard(library_lock());
    ssize_t n = api().smbc_getFunctionRead(owner_.context())(owner_.context(), file_, buffer, std::min(size, kChunk));
    if (n < 0) owner_.fail("read", path_);
    return static_cast<std::size_t>(n);
}

SmbWriter::~SmbWriter() {
    if (!file_) return;
    std::lock_guard guard(library_lock());
    owner_.changed();  // bytes may have been written: a listing made meanwhile shows the file as it was
    api().smbc_getFunctionClose(owner_.context())(owner_.context(), file_);
    owner_.writer_closed();
}

void SmbWriter::write(const char* data, std::size_t size) {
    if (!file_) throw Error("internal: write after commit of " + path_);
    std::lock_guard guard(library_lock());
    while (size > 0) {
        ssize_t n = api().smbc_getFunctionWrite(owner_.context())(owner_.context(), file_, data, std::min(size, kChunk));
        if (n <= 0) {
            if (n == 0) errno = EIO;
            owner_.fail("write", path_);
        }
        data += n;
        size -= static_cast<std::size_t>(n);
        written_ += static_cast<std::uint64_t>(n);
    }
}

// SMB has a flush, libsmbclient does not offer it: the close is the last
// word (durable_flush is false, whatever `flush` asks).
void SmbWriter::commit(Flush) {
    if (!file_) throw Error("internal: " + path_ + " committed twice");
    std::lock_guard guard(library_lock());
    // A listing made while the file was written shows its old size and time.
    owner_.changed();
    SMBCFILE* file = file_;
    file_ = nullptr;
    owner_.writer_closed();
    // The size on the open handle: one request, where a stat by name after
    // the close costs three (open, query, close).
    struct stat st {};
    const bool sized = api().smbc_getFunctionFstat(owner_.context())(owner_.context(), file, &st) == 0;
    const int stat_errno = errno;
    if (api().smbc_getFunctionClose(owner_.context())(owner_.context(), file) != 0) owner_.fail("close", path_);
    if (!sized) {
        errno = stat_errno;
        owner_.fail("check the size of", path_);
    }
    if (!S_ISREG(st.st_mode) || static_cast<std::uint64_t>(st.st_size) != written_)
        throw Error("target " + owner_.describe() + ": " + quote_path(path_) + " holds " + std::to_string(st.st_size) +
                    " bytes after writing, not the " + std::to_string(written_) + " written; run again");
    if (mtime_ns_) owner_.set_mtime_of(path_, *mtime_ns_);
}

}  // namespace

std::unique_ptr<Transport> open_smb(const std::string& url, const OpenOptions::Smb& options) {
    auto t = std::make_unique<SmbTransport>(url, options);
    return t;
}

int serve_smb_lister() {
    std::unique_ptr<SmbTransport> transport;
    return serve_smb_listings([&](const SmbListerLogon& logon) {
        OpenOptions::Smb options;
        options.require_encryption = logon.require_encryption;
        transport = std::make_unique<SmbTransport>(logon.url, options, &logon);
        return SmbWorkerSide{[&](const std::string& dir) { return transport->list_for_lister(dir); },
                             [&](const std::string& path) {
                                 transport->trust_folders_of(path);
                                 return transport->create(path);
                             }};
    });
}

}  // namespace exmsync::transport
