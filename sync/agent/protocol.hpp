// The agent protocol: what exmsync says to an exmsync agent on the server
// (`exmsync agent --root=PATH`, started over SSH), and back.
//
// 1. Handshake, one JSON line each way, the agent first:
//      {"exmsync-agent":1,"protocol":1,"version":"0.2.0","os":"linux",
//       "features":["peek_if_settled"]}
//      {"exmsync-client":1,"protocol":1,"version":"0.2.0"}
//    Different protocol numbers: the client does not go on (it falls back to
//    SFTP, or says which side to upgrade); the agent exits. "features" names
//    the optional requests the agent serves (none when absent); the client
//    sends no other.
// 2. Requests, each a JSON frame {"op": ...} answered by one JSON frame,
//    {"ok":true,...} or {"ok":false,"code":CODE,"message":TEXT} with the
//    error codes of the CLI (README, "Output and exit codes"):
//      open      {break_stale_lock}        lock the target, recover    -> RecoverReport
//      scan      {filter, peek}            its root, counts and drift  -> TargetScan
//      peek_if_settled {root, filter}      (feature) the no-op check without
//                                             the lock -> {scan: TargetScan or null}
//      manifest  {hidden_only}             -> reply, then the manifest and the hidden
//                                             list as two transfers (only the
//                                             latter when hidden_only)
//      apply     {kind} + an archive transfer (the `pack` format)       -> ApplyReport
//      history   {}                        -> {records: [{record, current, rollback_possible}]}
//      rollback  {to, dry_run, keep_backups} -> RollbackReport (+ the operation
//                                             list as a transfer when dry_run)
//      close     {}                        unlock
//    The agent sends keepalive frames while it works, so that a long commit
//    is told from a dead connection.
// 3. The client closes the stream; the agent releases the lock and exits
//    (also when the connection drops at any point).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "sync/apply.hpp"
#include "sync/rollback.hpp"
#include "sync/target.hpp"

namespace exmsync::sync::agent {

inline constexpr int kProtocol = 1;
inline constexpr const char* kPeekIfSettled = "peek_if_settled";

// The version of this exmsync (for handshakes and notes).
std::string version();

nlohmann::json agent_hello();
nlohmann::json client_hello();

// An error the agent reported, with its code.
class RemoteError : public Error {
public:
    RemoteError(const std::string& code, const std::string& message) : Error(message), code_(code) {}
    const char* code() const override { return code_.c_str(); }

private:
    std::string code_;
};

nlohmann::json filter_json(const FilterSpec& filter);
FilterSpec filter_from(const nlohmann::json& j);

nlohmann::json recover_json(const RecoverReport& report);
RecoverReport recover_from(const nlohmann::json& j);

nlohmann::json scan_json(const TargetScan& scan);
TargetScan scan_from(const nlohmann::json& j);

nlohmann::json hash_json(const manifest::Hash128& h);
manifest::Hash128 hash_from(const nlohmann::json& j);

nlohmann::json apply_json(const ApplyReport& report);
ApplyReport apply_from(const nlohmann::json& j);

}  // namespace exmsync::sync::agent
