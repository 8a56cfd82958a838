#include "sync/error.hpp"

#include "manifest/error.hpp"
#include "transport/transport.hpp"

namespace exmsync::sync {

std::string error_code(const std::exception& e) {
    if (auto* sync = dynamic_cast<const Error*>(&e)) return sync->code();
    if (dynamic_cast<const transport::Error*>(&e) || dynamic_cast<const manifest::Error*>(&e)) return "io";
    return "internal";
}

}  // namespace exmsync::sync
