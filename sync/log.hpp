// The one place exmsync talks to spdlog: logs go to stderr, human output to stdout.
#pragma once

#include <spdlog/spdlog.h>

namespace exmsync::log {

// verbosity: -1 quiet and 0 warnings (the CLI adds its notes unless quiet),
// 1 info (progress and timings), 2 debug.
void setup(int verbosity);

using spdlog::debug;
using spdlog::error;
using spdlog::info;
using spdlog::warn;

}  // namespace exmsync::log
