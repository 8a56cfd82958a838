#pragma once

#include <stdexcept>
#include <string>

namespace exmsync::manifest {

// A failure of scanning, reading or writing a manifest or stat cache. The
// message is one line that names the path (and line) and says what to do.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace exmsync::manifest
