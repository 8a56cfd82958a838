#include "sync/agent/server.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "sync/agent/protocol.hpp"
#include "sync/archive.hpp"
#include "sync/log.hpp"
#include "transport/local.hpp"

namespace exmsync::sync::agent {
namespace {

using nlohmann::json;

constexpr auto kKeepalive = std::chrono::seconds(5);

// Sends keepalive frames while a request is worked on.
class Keepalive {
public:
    explicit Keepalive(Channel& channel) : channel_(channel), thread_([this] { run(); }) {}
    ~Keepalive() {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        wake_.notify_one();
        thread_.join();
    }

private:
    void run() {
        std::unique_lock lock(mutex_);
        while (!wake_.wait_for(lock, kKeepalive, [this] { return stop_; })) {
            try {
                channel_.send_keepalive();
            } catch (const std::exception&) {
                return;  // the main thread finds out at its next read
            }
        }
    }

    Channel& channel_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stop_ = false;
    std::thread thread_;
};

// The archive of an apply request, read from the client as it arrives. The
// end of the transfer is read before anything is committed: a client that
// gives up after the last byte (its source changed) sends 'X' there, and the
// apply must not go on.
class StreamedArchive : public ContentFeed {
public:
    explicit StreamedArchive(Channel& channel)
        : channel_(channel),
          reader_(channel.peer() + "'s changeset", [this](char* buffer, std::size_t size) {
              return channel_.read_data(buffer, size);
          }) {}

    const Changeset& changeset() const { return reader_.changeset(); }
    void each(const Take& take) override { reader_.each(take); }
    void check_unchanged() override {
        char buffer[4096];
        while (channel_.read_data(buffer, sizeof buffer) > 0) {
        }
    }

private:
    Channel& channel_;
    ArchiveReader reader_;
};

class Server {
public:
    Server(Channel& channel, std::string root, std::string name)
        : channel_(channel), root_(std::move(root)), name_(std::move(name)) {}

    // false when the client closed the session.
    bool handle(const json& request) {
        const std::string op = request.at("op").get<std::string>();
        if (op == "open") {
            reply(recover_json(target().open(request.at("break_stale_lock").get<bool>())));
        } else if (op == "scan") {
            FilterSpec filter = filter_from(request.at("filter"));
            // Optional: clients of protocol 1 before --verify send none.
            target().verify_full(request.value("verify_full", false));
            reply(scan_json(request.at("peek").get<bool>() ? target().peek(filter) : target().scan(filter)));
        } else if (op == kPeekIfSettled) {
            auto peeked = target().peek_if_settled(hash_from(request.at("root")), filter_from(request.at("filter")));
            reply({{"scan", peeked ? scan_json(*peeked) : json(nullptr)}});
        } else if (op == "manifest") {
            manifest::TempFile manifest, hidden;
            target().fetch_manifest(manifest.path(), hidden.path());
            reply({});
            if (!request.at("hidden_only").get<bool>()) channel_.send_file(manifest.path().string());
            channel_.send_file(hidden.path().string());
        } else if (op == "apply") {
            apply(request);
        } else if (op == "history") {
            json records = json::array();
            for (const auto& e : target().history())
                records.push_back({{"record", encode_record(e.record)},
                                   {"current", e.current},
                                   {"rollback_possible", e.rollback_possible}});
            reply({{"records", records}});
        } else if (op == "rollback") {
            rollback(request);
        } else if (op == "close") {
            if (target_) target_->close();
            reply({});
            return false;
        } else {
            throw UsageError("unknown request '" + op + "' (this agent is exmsync " + version() + ")");
        }
        return true;
    }

    void fail(const std::exception& e) {
        channel_.send({{"ok", false}, {"code", error_code(e)}, {"message", e.what()}});
    }

    void release() {
        if (target_) target_->close();
    }

private:
    DirectTarget& target() {
        if (!target_) {
            try {
                target_ = std::make_unique<DirectTarget>(transport::make_local_transport(root_, name_), "local");
            } catch (const transport::Error& e) {
                throw UnreachableError(e.what());
            }
        }
        return *target_;
    }

    void reply(json result) {
        result["ok"] = true;
        channel_.send(result);
    }

    void apply(const json& request) {
        ApplyOptions options;
        options.kind = request.at("kind").get<std::string>();
        if (options.kind != "push" && options.kind != "apply") throw UsageError("cannot apply as '" + options.kind + "'");
        channel_.begin_data();
        try {
            StreamedArchive archive(channel_);
            auto report = target().apply(archive.changeset(), archive, options);
            // Already applied: nothing was staged, the rest is not needed.
            channel_.skip_data();
            reply(apply_json(report));
        } catch (...) {
            channel_.skip_data();
            throw;
        }
    }

    void rollback(const json& request) {
        RollbackOptions options;
        options.dry_run = request.at("dry_run").get<bool>();
        options.keep_backups = request.at("keep_backups").get<unsigned>();
        auto report = target().rollback(request.at("to").get<std::string>(), options);
        reply({{"to_apply", report.to_apply},
               {"header", encode_header(report.plan->header)},
               {"applied", apply_json(report.applied)},
               {"notes", report.notes}});
        if (options.dry_run) channel_.send_file(report.plan->ops.path().string());
    }

    Channel& channel_;
    std::string root_, name_;
    std::unique_ptr<DirectTarget> target_;
};

}  // namespace

int serve(ByteStream& stream, const std::string& root, const std::string& name) {
    Channel channel(stream, "the client");
    try {
        channel.send_line(agent_hello());
        auto line = channel.read_line();
        if (!line) return 0;  // a probe that only wanted the hello
        json hello = json::parse(*line, nullptr, false);
        if (hello.is_discarded() || !hello.is_object() || !hello.contains("protocol")) {
            log::error("agent: the client did not say hello; is this a terminal? (exmsync agent is started by "
                       "exmsync push over SSH)");
            return 2;
        }
        if (hello.at("protocol") != kProtocol) {
            log::error("agent: the client speaks agent protocol {}, this exmsync {} speaks {}", hello.at("protocol").dump(),
                       version(), kProtocol);
            return 2;
        }
    } catch (const std::exception& e) {
        log::error("agent: {}", e.what());
        return 2;
    }

    Server server(channel, root, name.empty() ? root : name);
    while (true) {
        json request;
        try {
            auto next = channel.try_receive();
            if (!next) break;  // the client left: release and go
            request = std::move(*next);
        } catch (const std::exception& e) {
            log::error("agent: {}", e.what());
            server.release();
            return 2;
        }
        try {
            Keepalive keepalive(channel);
            if (!server.handle(request)) break;
        } catch (const UnreachableError& e) {
            // Our own connection may be what failed; try to say so anyway.
            try {
                server.fail(e);
            } catch (const std::exception&) {
                server.release();
                return 2;
            }
        } catch (const std::exception& e) {
            try {
                server.fail(e);
            } catch (const std::exception& lost) {
                log::error("agent: {}", lost.what());
                server.release();
                return 2;
            }
        }
    }
    server.release();
    return 0;
}

}  // namespace exmsync::sync::agent
