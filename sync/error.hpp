#pragma once

#include <stdexcept>

namespace exmsync::sync {

// A failure of a sync operation: one line naming the target or path and what to do.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The user asked for something malformed (bad arguments, bad fleet file).
class UsageError : public Error {
public:
    using Error::Error;
};

}  // namespace exmsync::sync
