// The few facts about this process and machine that sync needs (the lock
// records who holds it). POSIX lives in platform.cpp; a Windows build swaps it.
#pragma once

#include <cstdint>
#include <string>

namespace exmsync::sync::platform {

std::string host_name();
std::int64_t process_id();
// False only when this machine has no process with that id.
bool process_alive(std::int64_t pid);
// When process `pid` started, in a form that only has to compare equal for
// the same process ("" when unknown): a pid reused by a later process gives
// another value.
std::string process_start_time(std::int64_t pid);
// UTC, ISO 8601 with seconds: 2026-11-28T20:15:03Z.
std::string utc_now();

}  // namespace exmsync::sync::platform
