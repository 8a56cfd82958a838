#include "sync/target.hpp"

#include <fstream>

#include "manifest/sorted_file.hpp"
#include "platform/files.hpp"
#include "sync/agent/client.hpp"
#include "sync/apply.hpp"
#include "sync/error.hpp"

namespace exmsync::sync {

namespace {

std::unique_ptr<Target> open_as_chosen(const std::string& location, const TargetOptions& options) {
    if (location.rfind("ssh://", 0) == 0) return agent::open_ssh_target(location, options);
    if (options.mode == AgentMode::Agent || !options.rsh.empty())
        throw UsageError("'" + transport::redact_url(location) +
                         "' is not an ssh:// target; --rsh and --remote-exmsync only apply to those");
    try {
        const bool smb = location.rfind("smb://", 0) == 0;
        return std::make_unique<DirectTarget>(transport::open_transport(location, options.open), smb ? "smb" : "local");
    } catch (const transport::Error& e) {
        throw UnreachableError(e.what());
    }
}

}  // namespace

ApplyReport Target::apply_packed(const PackedChangeset& packed, const ApplyOptions& options) {
    manifest::TempFile file;
    std::ofstream out(platform::stream_path(file.path().string()), std::ios::binary);
    packed.write([&](const char* data, std::size_t size) {
        out.write(data, static_cast<std::streamsize>(size));
        if (!out) throw Error("cannot write " + file.path().string() + ": disk full or I/O error");
    });
    out.close();
    if (!out) throw Error("cannot write " + file.path().string() + ": disk full or I/O error");
    return apply_archive(file.path().string(), options);
}

std::unique_ptr<Target> open_target(const std::string& location, const TargetOptions& options) {
    auto target = open_as_chosen(location, options);
    target->verify_full(options.verify_full);
    return target;
}

}  // namespace exmsync::sync
