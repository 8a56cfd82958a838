// The local backend's words and streams over the platform layer: a failure
// turned into the transport's exception with a message that names the
// target, the path, the cause and what to do; and the Reader and Writer over
// an open file. Internal to transport/; only local.cpp (and its tests)
// include it.
#pragma once

#include <memory>
#include <string>

#include "platform/files.hpp"
#include "transport/transport.hpp"

namespace exmsync::transport::local_io {

// Where an operation happened, for messages: "target ROOT: cannot VERB PATH".
struct Where {
    const std::string& target;
    std::string verb;
    const std::string& path;
};

// Throws the exception for `error` (not_found -> NotFound, exists ->
// AlreadyExists, else Error) with a one-line message that names the target,
// the path, the cause and what to do. `detail` (may be empty) names what the
// cause applies to when it is not the path itself, e.g. a folder on the way.
// A link is explained as "DETAIL is a symlink" and thrown as Error.
[[noreturn]] void throw_failure(const Where& where, const platform::Error& error, const std::string& detail = {});

// Throw Error / NotFound naming the target and path, with `why` as the cause.
[[noreturn]] void throw_error(const Where& where, const std::string& why);
[[noreturn]] void throw_not_found(const Where& where, const std::string& why);

Stat to_stat(const platform::Info& info);

// A Reader / Writer that owns `file` and names `target` and `path` in its messages.
std::unique_ptr<Reader> make_reader(platform::Handle file, const std::string& target, const std::string& path);
std::unique_ptr<Writer> make_writer(platform::Handle file, const std::string& target, const std::string& path);

}  // namespace exmsync::transport::local_io
