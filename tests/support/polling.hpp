// Waiting for a moment in another process's work, for the tests that kill a
// server or a process partway: polled, since that work gives no signal.
#pragma once

#include <boost/filesystem.hpp>
#include <chrono>
#include <future>
#include <thread>

namespace exmsync::testing {

// Regular files under `dir` (0 while it does not exist).
inline std::size_t count_files(const boost::filesystem::path& dir) {
    boost::system::error_code ec;
    std::size_t n = 0;
    for (boost::filesystem::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        if (boost::filesystem::is_regular_file(it->path(), ec)) ++n;
    return n;
}

// Waits (up to a minute) for `ready`; true if it came.
template <typename Ready>
bool wait_for(Ready&& ready) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
        if (ready()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
}

// How a wait for a moment in another task's work ended.
enum class Waited { Came, Ended, TimedOut };

// Waits (up to a minute) for `moment` in the work of `running`, which may
// end before the moment comes (a busy machine can let it pass between two
// looks).
template <typename Moment, typename Result>
Waited wait_for_moment(Moment&& moment, std::future<Result>& running) {
    Waited how = Waited::TimedOut;
    wait_for([&] {
        if (moment()) how = Waited::Came;
        else if (running.wait_for(std::chrono::seconds(0)) == std::future_status::ready) how = Waited::Ended;
        return how != Waited::TimedOut;
    });
    return how;
}

}  // namespace exmsync::testing
