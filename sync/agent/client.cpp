#include "sync/agent/client.hpp"

#include <algorithm>
#include <boost/filesystem/operations.hpp>
#include <fstream>

#include "sync/agent/protocol.hpp"
#include "sync/archive.hpp"
#include "sync/log.hpp"
#include "sync/snapshot.hpp"
#ifdef EXMSYNC_WITH_SSH
#include "transport/ssh.hpp"
#endif
#include "transport/ssh_session.hpp"

namespace exmsync::sync::agent {
namespace {

namespace fs = boost::filesystem;
using nlohmann::json;

// ---- manifests by root ----

fs::path cache_dir() { return user_cache_dir() / "manifests"; }

std::optional<fs::path> cached_manifest(const manifest::Hash128& root) {
    fs::path file = cache_dir() / root.hex();
    boost::system::error_code ec;
    if (!fs::is_regular_file(file, ec)) return std::nullopt;
    fs::last_write_time(file, std::time(nullptr), ec);  // recently used: kept longest
    return file;
}

// Keeps a copy of `file`, the manifest with root `root`. A cache that cannot
// be written costs a transfer later, nothing more.
void cache_manifest(const manifest::Hash128& root, const fs::path& file) {
    if (cached_manifest(root)) return;  // another target of this push kept it
    boost::system::error_code ec;
    fs::path dir = cache_dir();
    fs::create_directories(dir, ec);
    fs::path temp = dir / fs::unique_path(root.hex() + ".tmp-%%%%%%%%");
    fs::copy_file(file, temp, ec);
    if (!ec) fs::rename(temp, dir / root.hex(), ec);
    if (ec) {
        fs::remove(temp, ec);
        log::debug("cannot keep manifest {} in {}", root.hex(), dir.string());
        return;
    }
    std::vector<std::pair<std::time_t, fs::path>> files;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        if (it->path().filename().string().find(".tmp-") == std::string::npos)
            files.emplace_back(fs::last_write_time(it->path(), ec), it->path());
    std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    for (std::size_t i = kCachedManifests; i < files.size(); ++i) fs::remove(files[i].second, ec);
}

// A feed that also keeps the manifest it delivers, so the next push to the
// same root needs no manifest from the target.
class KeepingFeed : public ContentFeed {
public:
    KeepingFeed(ContentFeed& inner, const fs::path& copy) : inner_(inner), copy_(copy) {}
    void each(const Take& take) override {
        inner_.each([&](const std::string& name, std::uint64_t size, transport::Reader& content) {
            if (name != kManifestItem) return take(name, size, content);
            Tee tee(content, copy_);
            take(name, size, tee);
        });
    }
    void check_unchanged() override { inner_.check_unchanged(); }

private:
    class Tee : public transport::Reader {
    public:
        Tee(transport::Reader& inner, const fs::path& copy) : inner_(inner), out_(copy.string(), std::ios::binary) {}
        std::size_t read(char* buffer, std::size_t size) override {
            std::size_t n = inner_.read(buffer, size);
            out_.write(buffer, static_cast<std::streamsize>(n));
            return n;
        }

    private:
        transport::Reader& inner_;
        std::ofstream out_;
    };

    ContentFeed& inner_;
    fs::path copy_;
};

// ---- the target ----

class AgentTarget : public Target {
public:
    AgentTarget(std::unique_ptr<ByteStream> stream, std::unique_ptr<Channel> channel, std::string name,
                std::string reason, std::vector<std::string> features)
        : stream_(std::move(stream)),
          channel_(std::move(channel)),
          name_(std::move(name)),
          reason_(std::move(reason)),
          features_(std::move(features)) {}

    ~AgentTarget() override {
        // The agent releases the lock when the stream ends, however it ends.
        try {
            stream_->close_write();
        } catch (const std::exception&) {
        }
    }

    std::string mode() const override { return "agent"; }
    std::string mode_reason() const override { return reason_; }

    RecoverReport open(bool break_stale_lock) override {
        return decode(request({{"op", "open"}, {"break_stale_lock", break_stale_lock}}), recover_from);
    }

    void close() override {
        if (closed_) return;
        request({{"op", "close"}});
        closed_ = true;
    }

    TargetScan scan(const FilterSpec& filter) override { return scan_or_peek(filter, false); }
    TargetScan peek(const FilterSpec& filter) override { return scan_or_peek(filter, true); }

    std::optional<TargetScan> peek_if_settled(const manifest::Hash128& root, const FilterSpec& filter) override {
        if (std::find(features_.begin(), features_.end(), kPeekIfSettled) == features_.end()) return std::nullopt;
        json r = request({{"op", kPeekIfSettled}, {"root", hash_json(root)}, {"filter", filter_json(filter)}});
        if (r.value("scan", json()).is_null()) return std::nullopt;
        scanned_ = decode(r.at("scan"), scan_from);
        return scanned_;
    }

    void fetch_manifest(const fs::path& manifest, const fs::path& hidden) override {
        if (!scanned_) throw Error("internal: the manifest of " + name_ + " before a scan");
        auto cached = cached_manifest(scanned_->scan.root);
        if (cached) {
            boost::system::error_code ec;
            fs::copy_file(*cached, manifest, fs::copy_options::overwrite_existing, ec);
            if (ec) cached.reset();
        }
        if (cached && scanned_->scan.hidden_folders == 0) {
            std::ofstream(hidden.string(), std::ios::trunc);
            return;
        }
        request({{"op", "manifest"}, {"hidden_only", cached.has_value()}});
        if (!cached) channel_->receive_file(manifest.string());
        channel_->receive_file(hidden.string());
        if (!cached) cache_manifest(scanned_->scan.root, manifest);
    }

    ApplyReport apply(const Changeset& changeset, ContentFeed& content, const ApplyOptions& options) override {
        manifest::TempFile sent;
        KeepingFeed keeping(content, sent.path());
        channel_->send({{"op", "apply"}, {"kind", options.kind}});
        channel_->send_data([&](const Channel::Sink& sink) {
            write_archive(name_, sink, changeset, keeping);
        });
        auto report = decode(reply(), apply_from);
        cache_manifest(changeset.header.new_root, sent.path());
        return report;
    }

    bool takes_archives() const override { return true; }

    ApplyReport apply_packed(const PackedChangeset& packed, const ApplyOptions& options) override {
        channel_->send({{"op", "apply"}, {"kind", options.kind}});
        channel_->send_data([&](const Channel::Sink& sink) { packed.write(sink); });
        auto report = decode(reply(), apply_from);
        cache_manifest(packed.header.new_root, packed.after);
        return report;
    }

    ApplyReport apply_archive(const std::string& file, const ApplyOptions& options) override {
        channel_->send({{"op", "apply"}, {"kind", options.kind}});
        channel_->send_file(file);
        return decode(reply(), apply_from);
    }

    std::vector<HistoryEntry> history() override {
        return decode(request({{"op", "history"}}), [&](const json& j) {
            std::vector<HistoryEntry> out;
            for (const auto& r : j.at("records")) {
                HistoryEntry e;
                e.record = decode_record(r.at("record").get<std::string>(), name_);
                e.current = r.at("current").get<bool>();
                e.rollback_possible = r.at("rollback_possible").get<bool>();
                out.push_back(std::move(e));
            }
            return out;
        });
    }

    RollbackReport rollback(const std::string& to, const RollbackOptions& options) override {
        json r = request({{"op", "rollback"}, {"to", to}, {"dry_run", options.dry_run},
                          {"keep_backups", options.keep_backups}});
        RollbackReport report;
        auto plan = std::make_shared<Plan>();
        decode(r, [&](const json& j) {
            report.to_apply = j.at("to_apply").get<std::string>();
            plan->header = decode_header(j.at("header").get<std::string>(), name_);
            report.applied = apply_from(j.at("applied"));
            report.notes = j.at("notes").get<std::vector<std::string>>();
            return 0;
        });
        if (options.dry_run) channel_->receive_file(plan->ops.path().string());
        report.plan = std::move(plan);
        return report;
    }

    Traffic traffic() const override { return {stream_->bytes_written(), stream_->bytes_read()}; }

private:
    TargetScan scan_or_peek(const FilterSpec& filter, bool peek) {
        scanned_ = decode(request({{"op", "scan"}, {"filter", filter_json(filter)}, {"peek", peek}, {"verify_full", verify_full_}}), scan_from);
        return *scanned_;
    }

    json request(const json& message) {
        channel_->send(message);
        return reply();
    }

    json reply() {
        json r = channel_->receive();
        if (!r.is_object() || !r.contains("ok") || !r["ok"].is_boolean())
            throw UnreachableError(name_ + ": the agent sent a malformed reply");
        if (!r["ok"].get<bool>()) {
            std::string code = r.value("code", "error"), message = r.value("message", "the agent failed");
            throw RemoteError(code, message);
        }
        return r;
    }

    template <typename F>
    auto decode(const json& j, F&& f) -> decltype(f(j)) {
        try {
            return f(j);
        } catch (const json::exception& e) {
            throw UnreachableError(name_ + ": the agent sent a malformed reply (" + e.what() + ")");
        }
    }

    std::unique_ptr<ByteStream> stream_;
    std::unique_ptr<Channel> channel_;
    std::string name_, reason_;
    std::vector<std::string> features_;  // from the agent's hello
    std::optional<TargetScan> scanned_;
    bool closed_ = false;
};

// The words of an --rsh command: split at blanks, with '...' and "..." kept
// together, as a shell would for a simple command.
std::vector<std::string> split_words(const std::string& text) {
    std::vector<std::string> words;
    std::string word;
    bool in_word = false;
    char quote = 0;
    for (char c : text) {
        if (quote) {
            if (c == quote) quote = 0;
            else word += c;
        } else if (c == '\'' || c == '"') {
            quote = c;
            in_word = true;
        } else if (c == ' ' || c == '\t') {
            if (in_word) words.push_back(word);
            word.clear();
            in_word = false;
        } else {
            word += c;
            in_word = true;
        }
    }
    if (quote) throw UsageError("--rsh '" + text + "' has an unclosed quote");
    if (in_word) words.push_back(word);
    if (words.empty()) throw UsageError("--rsh is empty; give a command such as 'ssh -J bastion'");
    return words;
}

std::string last_line(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    if (auto newline = text.rfind('\n'); newline != std::string::npos) text = text.substr(newline + 1);
    return text;
}

}  // namespace

std::unique_ptr<Target> connect_agent(std::unique_ptr<ByteStream> stream, const std::string& name,
                                      std::string& why_not) {
    auto channel = std::make_unique<Channel>(*stream, name);
    auto line = channel->read_line();
    if (!line) {
        std::string said = last_line(stream->diagnostics());
        int status = stream->exit_status();
        why_not = "no exmsync agent answered";
        if (!said.empty()) why_not += " (" + said + ")";
        else if (status >= 0) why_not += " (exit status " + std::to_string(status) + ")";
        return nullptr;
    }
    json hello = json::parse(*line, nullptr, false);
    if (hello.is_discarded() || !hello.is_object() || !hello.contains("exmsync-agent")) {
        std::string shown = line->substr(0, 80);
        for (char& c : shown)
            if (static_cast<unsigned char>(c) < 0x20) c = ' ';
        why_not = "the server answered '" + shown + "', not an exmsync agent";
        return nullptr;
    }
    std::string their_version = hello.value("version", "?");
    if (!hello.contains("protocol") || hello["protocol"] != kProtocol) {
        why_not = "exmsync " + their_version + " there speaks agent protocol " +
                  (hello.contains("protocol") ? hello["protocol"].dump() : std::string("?")) + ", this exmsync " +
                  version() + " speaks " + std::to_string(kProtocol) + "; install the same version on both sides";
        return nullptr;
    }
    std::vector<std::string> features;
    if (auto f = hello.find("features"); f != hello.end() && f->is_array())
        for (const auto& one : *f)
            if (one.is_string()) features.push_back(one.get<std::string>());
    channel->send_line(client_hello());
    std::string reason = "agent mode (exmsync " + their_version + " on the server)";
    return std::make_unique<AgentTarget>(std::move(stream), std::move(channel), name, reason, std::move(features));
}

std::unique_ptr<Target> open_ssh_target(const std::string& url, const TargetOptions& options) {
    const std::string name = transport::redact_url(url);
    transport::SshUrl parsed;
    try {
        parsed = transport::SshUrl::parse(url);
    } catch (const transport::Error& e) {
        throw UsageError(e.what());
    }
    const bool windows = parsed.windows_path();
    std::vector<std::string> agent_argv = {options.remote_exmsync, "agent", "--root=" + parsed.path};
    // The name goes along for messages; cmd.exe would choke on a URL's '%'.
    if (!windows) agent_argv.push_back("--name=" + name);
    std::string command;
    try {
        command = transport::remote_command(agent_argv, windows);
    } catch (const transport::Error& e) {
        throw UsageError("target " + name + ": " + e.what());
    }
    const int timeout = options.open.ssh.timeout_seconds;

    if (!options.rsh.empty()) {
        auto argv = split_words(options.rsh);
        if (parsed.port != 22) {
            argv.push_back("-p");
            argv.push_back(std::to_string(parsed.port));
        }
        argv.push_back(parsed.user.empty() ? parsed.host : parsed.user + "@" + parsed.host);
        argv.push_back(command);
        std::string why_not;
        auto target = connect_agent(process_stream(argv, timeout), name, why_not);
        if (!target)
            throw UnreachableError("target " + name + ": " + why_not + " through --rsh '" + options.rsh +
                                   "'; --rsh needs exmsync on the server (install it there, or name it with "
                                   "--remote-exmsync), or drop --rsh to use SFTP");
        return target;
    }

#ifndef EXMSYNC_WITH_SSH
    throw UsageError("target " + name +
                     ": this build has no libssh; give --rsh ssh to reach the server through this machine's "
                     "OpenSSH client, with exmsync installed on the server");
#else
    std::shared_ptr<transport::SshSession> session;
    try {
        session = std::make_shared<transport::SshSession>(parsed, options.open.ssh);
    } catch (const transport::Error& e) {
        throw UnreachableError(e.what());
    }
    std::string reason = "agentless (SFTP): --no-agent";
    if (options.mode != AgentMode::Sftp) {
        std::string why_not;
        auto target = connect_agent(ssh_stream(session, command, timeout), name, why_not);
        if (target) return target;
        if (options.mode == AgentMode::Agent)
            throw UnreachableError("target " + name + ": " + why_not + " (" + options.remote_exmsync +
                                   "); check --remote-exmsync, or leave it out to fall back to SFTP");
        reason = "agentless (SFTP): " + why_not;
    }
    try {
        return std::make_unique<DirectTarget>(transport::open_sftp(session), "sftp", reason);
    } catch (const transport::NotFound& e) {
        throw UnreachableError(e.what());
    } catch (const transport::Error& e) {
        throw UnreachableError(e.what());
    }
#endif
}

}  // namespace exmsync::sync::agent
