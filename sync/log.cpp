#include "sync/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace exmsync::log {

void setup(int verbosity) {
    auto logger = spdlog::stderr_color_mt("exmsync");
    logger->set_pattern("%^%l%$: %v");
    switch (verbosity) {
        case -1:  // quiet drops notes (printed by the CLI), never warnings
        case 0: logger->set_level(spdlog::level::warn); break;
        case 1: logger->set_level(spdlog::level::info); break;
        default: logger->set_level(spdlog::level::debug); break;
    }
    spdlog::set_default_logger(logger);
}

}  // namespace exmsync::log
