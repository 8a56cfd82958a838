// The target lock as a crash leaves it, for the tests that end a run partway.
#pragma once

#include <boost/filesystem.hpp>
#include <ctime>

namespace exmsync::testing {

// A crash between the lock's exclusive create and writing its owner leaves
// an empty lock, which recover breaks only once it is older than a live run
// would ever leave it: the operator arrives later than the test does. Dates
// such a lock a minute back; any other lock is left as it is.
inline void age_empty_lock(const boost::filesystem::path& target) {
    const boost::filesystem::path lock = target / ".exmsync/lock";
    if (boost::filesystem::exists(lock) && boost::filesystem::file_size(lock) == 0)
        boost::filesystem::last_write_time(lock, std::time(nullptr) - 60);
}

}  // namespace exmsync::testing
