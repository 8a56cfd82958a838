// What a Handle is on both sides: moving one hands over the system's handle
// or descriptor, and the last owner closes it (Handle::close is per side).
#include "platform/files.hpp"

namespace exmsync::platform {

Handle::Handle(Handle&& other) noexcept : native_(other.native_), path_(std::move(other.path_)) {
    other.native_ = kInvalid;
}

Handle& Handle::operator=(Handle&& other) noexcept {
    if (this != &other) {
        close();
        native_ = other.native_;
        path_ = std::move(other.path_);
        other.native_ = kInvalid;
    }
    return *this;
}

Handle::~Handle() { close(); }

}  // namespace exmsync::platform
