#include "tools/cli.hpp"

#include <iostream>

#include "platform/process.hpp"
#include "sync/error.hpp"
#include "sync/log.hpp"
#include "sync/report/report.hpp"
#include "transport/transport.hpp"

namespace exmsync::cli {

void Warnings::add(const std::string& code, const std::string& message, const std::string& path) {
    log::warn("{}", message);
    if (kept_.size() < kMaxKept) kept_.push_back(report::warning_json(code, message, path));
    else ++dropped_;
}

nlohmann::json Warnings::json() const {
    nlohmann::json list = kept_;
    if (dropped_ > 0)
        list.push_back(report::warning_json("more", std::to_string(dropped_) + " more warnings were left out"));
    return list;
}

void note(const Output& out, const std::string& text) {
    if (!out.quiet) std::cerr << "note: " << text << '\n';
}

void ScanFlags::add_to(CLI::App& command) {
    // One value per use: a repeatable option must never swallow the
    // positional arguments after it.
    command.add_option("--include", include, "Only files matching this glob (repeatable; ** spans folders)")
        ->expected(1)->allow_extra_args(false)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    command.add_option("--exclude", exclude, "Leave out paths matching this glob (repeatable)")
        ->expected(1)->allow_extra_args(false)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    command.add_flag("--no-default-excludes", no_default_excludes,
                     "Keep Thumbs.db, desktop.ini, ~$* and *.tmp, which are excluded by default");
    command.add_flag("--no-cache", no_cache, "Hash every file; neither read nor write a stat cache");
    command.add_option("--cache", cache_file, "Stat cache file for the scanned folder (default: one per folder in "
                                              "the user's cache folder, ~/.cache/exmsync)");
}

sync::FilterSpec ScanFlags::filter() const { return {include, exclude, !no_default_excludes}; }

sync::SnapshotOptions ScanFlags::snapshot_options() const {
    sync::SnapshotOptions options;
    options.filter = filter();
    options.filter.filter();  // a bad glob is refused now, before anything is scanned
    options.use_cache = !no_cache;
    if (!cache_file.empty()) options.cache_file = cache_file;
    return options;
}

nlohmann::json json_head(const Output& out, bool ok) {
    return {{"ok", ok}, {"version", report::kJsonVersion}, {"command", out.command}};
}

std::string location(const std::string& typed) {
    auto local = transport::local_location(typed);
    return local ? local->string() : typed;
}

void SshFlags::add_to(CLI::App& command) {
    auto& ssh = target.open.ssh;
    command.add_option("--known-hosts", ssh.known_hosts,
                       "Known-hosts file for ssh:// targets (default ~/.ssh/known_hosts, and no other)");
    command.add_option("--host-key", ssh.host_key, "Pinned host key of the ssh:// target(s): SHA256:...");
    command.add_option("--identity", ssh.identities,
                       "Private key for ssh:// (repeatable; default: the ssh-agent, then ~/.ssh/id_ed25519, "
                       "id_ecdsa, id_rsa)")
        ->expected(1)->allow_extra_args(false)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    command.add_flag("--accept-new-host-key", ssh.accept_new_host_key,
                     "Record an unknown host key in the known-hosts file instead of refusing it");
    command.add_option("--ssh-timeout", ssh.timeout_seconds,
                       "Seconds to connect, and to wait for any answer (default 30)");
    auto& smb = target.open.smb;
    command.add_option("--smb-credentials", smb.credentials,
                       "Credentials file for smb:// targets: username=, password=, domain= lines (as mount.cifs), "
                       "mode 600; default: the password in EXMSYNC_SMB_PASSWORD");
    command.add_flag("--smb-encrypt", smb.require_encryption,
                     "Require SMB3 encryption on smb:// targets; refuse a share that cannot be encrypted");
    command.add_flag("--no-agent", no_agent,
                     "Reach ssh:// targets by SFTP only, even where the server has exmsync (agentless)");
    command.add_option("--remote-exmsync", remote_exmsync,
                       "The exmsync program on the ssh:// servers (default: exmsync on their PATH; "
                       "when given, no fallback to SFTP)");
    command.add_option("--rsh", target.rsh,
                       "Reach ssh:// servers with this command instead of libssh, as rsync's -e "
                       "(e.g. 'ssh -J bastion'); needs exmsync on the server");
}

void SshFlags::add_verify_to(CLI::App& command) {
    command.add_option("--verify", verify,
                       "How a target's files are checked: stat (trust its stat cache for files whose size, "
                       "mtime and, where the backend has them, inode and ctime are unchanged; the default) or "
                       "full (read and hash every file)")
        ->check(CLI::IsMember({"stat", "full"}));
}

sync::TargetOptions SshFlags::options() const {
    sync::TargetOptions o = target;
    if (no_agent && (!remote_exmsync.empty() || !o.rsh.empty()))
        throw sync::UsageError("--no-agent cannot go with --remote-exmsync or --rsh, which need the agent");
    if (no_agent) o.mode = sync::AgentMode::Sftp;
    if (!remote_exmsync.empty()) {
        o.mode = sync::AgentMode::Agent;
        o.remote_exmsync = remote_exmsync;
    }
    o.verify_full = verify == "full";
    o.open.smb.lister_program = platform::executable_path();
    if (o.open.ssh.timeout_seconds <= 0) throw sync::UsageError("--ssh-timeout must be at least 1 second");
    return o;
}

}  // namespace exmsync::cli
