// The main of every test program: GoogleTest's, except when the program is
// started again as a crash test's child (tests/support/child_task.hpp).
#include <gtest/gtest.h>

#include <boost/filesystem/operations.hpp>
#include <cstdlib>

#include "platform/process.hpp"
#include "support/child_task.hpp"

namespace {

namespace fs = boost::filesystem;

// The crash tests end processes halfway, as a power cut would, and those
// leave their temporary files behind: several hundred per run of the
// suites. Every test program, and every process it starts, gets a temporary
// folder of its own, removed when the program ends, so that a machine that
// runs the suites does not collect them in its /tmp.
class OwnTempFolder {
public:
    OwnTempFolder() {
        // A test program started again by one of its tests (a death test on
        // Windows) keeps the folder it was given, where its parent looks.
        if (!exmsync::platform::environment(kMarker).empty()) return;
        boost::system::error_code ec;
        const fs::path dir = fs::temp_directory_path(ec) / fs::unique_path("exmsync-tests-%%%%-%%%%");
        if (ec || !fs::create_directory(dir, ec) || ec) return;  // the tests still run, in the usual place
        dir_ = dir;
        // Like /tmp: some tests run exmsync as another user (nobody).
        fs::permissions(dir_, fs::all_all | fs::sticky_bit, ec);
#ifdef _WIN32
        ::_putenv_s("TMP", dir_.string().c_str());
        ::_putenv_s("TEMP", dir_.string().c_str());
        ::_putenv_s(kMarker, "1");
#else
        ::setenv("TMPDIR", dir_.c_str(), 1);
        ::setenv(kMarker, "1", 1);
#endif
    }
    ~OwnTempFolder() {
        boost::system::error_code ec;
        if (!dir_.empty()) fs::remove_all(dir_, ec);
    }
    OwnTempFolder(const OwnTempFolder&) = delete;
    OwnTempFolder& operator=(const OwnTempFolder&) = delete;

private:
    static constexpr const char* kMarker = "EXMSYNC_TESTS_OWN_TEMP";
    fs::path dir_;
};

}  // namespace

int main(int argc, char** argv) {
    const auto arguments = exmsync::platform::arguments(argc, argv);
    if (arguments.size() >= 3 && arguments[1] == "--exmsync-child-task")
        return exmsync::testing::run_child_task(arguments[2], {arguments.begin() + 3, arguments.end()});
    OwnTempFolder temp;
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
