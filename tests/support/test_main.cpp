// The main of every test program: GoogleTest's, except when the program is
// started again as a crash test's child (tests/support/child_task.hpp).
#include <gtest/gtest.h>

#include "platform/process.hpp"
#include "support/child_task.hpp"

int main(int argc, char** argv) {
    const auto arguments = exmsync::platform::arguments(argc, argv);
    if (arguments.size() >= 3 && arguments[1] == "--exmsync-child-task")
        return exmsync::testing::run_child_task(arguments[2], {arguments.begin() + 3, arguments.end()});
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
