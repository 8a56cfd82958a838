// What Handle and Error are on both sides: moving a Handle hands over the
// system's handle or descriptor, and the last owner closes it (Handle::close
// is per side); an Error says its own kind in fixed words, or the system's
// (system_text is per side).
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

std::string Error::text() const {
    switch (code) {
    case Errc::is_a_folder: return "it is a folder, not a file";
    case Errc::not_a_file: return "it is not a regular file";
    case Errc::not_a_link: return "it is not a symlink";
    case Errc::replaced: return "it was replaced while being opened; run again";
    default: return system_text(native);
    }
}

}  // namespace exmsync::platform
