// Small helpers shared by the transport tests.
#pragma once

#include <string>

#include "transport/transport.hpp"

namespace exmsync::testing {

// The whole content of a file read through the transport, in small chunks so
// that a Reader returning short reads is exercised.
inline std::string read_all(transport::Transport& t, const std::string& path) {
    auto reader = t.open_read(path);
    std::string out;
    char buffer[7];
    while (const std::size_t n = reader->read(buffer, sizeof buffer)) out.append(buffer, n);
    return out;
}

// Creates, writes and commits a new file through the transport.
inline void write_new(transport::Transport& t, const std::string& path, const std::string& content) {
    auto writer = t.create(path);
    writer->write(content.data(), content.size());
    writer->commit(transport::Flush::Now);
}

}  // namespace exmsync::testing
