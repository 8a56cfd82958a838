// The errors of sync operations. Each names the target or path and says what
// to do, in one line; each has a stable code for scripts (`error.code` in the
// JSON output), listed in the README with its exit code.
#pragma once

#include <exception>
#include <stdexcept>
#include <string>

namespace exmsync::sync {

class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
    virtual const char* code() const { return "error"; }
};

// The user asked for something malformed (bad arguments, bad fleet file).
class UsageError : public Error {
public:
    using Error::Error;
    const char* code() const override { return "usage"; }
};

// A source or target that cannot be reached or opened.
class UnreachableError : public Error {
public:
    using Error::Error;
    const char* code() const override { return "unreachable"; }
};

// A guard refused a target: more deletes than allowed, or an empty source.
class GuardError : public Error {
public:
    using Error::Error;
    const char* code() const override { return "guard"; }
};

// The source changed while it was being pushed; nothing was sent.
class SourceChanged : public Error {
public:
    using Error::Error;
    const char* code() const override { return "source-changed"; }
};

// The code of any exception, for reports: sync errors carry their own,
// transport and scan failures map to "io", anything else to "internal".
std::string error_code(const std::exception& e);

}  // namespace exmsync::sync
