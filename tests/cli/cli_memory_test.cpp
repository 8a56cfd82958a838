// Bounded memory: no command holds one entry per file. Each command runs on
// a tree of 5,000 and of 50,000 small files, and its peak resident memory
// (/usr/bin/time -f %M, steady enough to compare where time is not) at the
// larger size must stay within kMargin of the smaller: a per-file cost of a
// mere 40 bytes would already exceed it. No wall-clock time is asserted.
#include <gtest/gtest.h>

#include "cli/cli_support.hpp"

using namespace exmsync::testing;
using namespace exmsync::testing::cli;

namespace {

constexpr double kMargin = 1.2;

// `files` small templates in folders of 250, as many as a busy EXM site has.
void small_tree(const fs::path& root, int files) {
    for (int i = 0; i < files; ++i) {
        std::string folder = "campaign-" + std::to_string(i / 250);
        write_file(root / folder / ("t" + std::to_string(i) + ".html"),
                   "<html><body>template " + std::to_string(i) + " $name$</body></html>\n");
    }
}

// Peak resident memory of one run of exmsync, in KiB.
long peak_kib(const std::string& args) {
    TempDir scratch;
    auto r = run("/usr/bin/time -f %M -o " + q(scratch / "peak") + " " + shell_quote(kExmsync) + " " + args +
                 " > /dev/null");
    EXPECT_LE(r.exit_code, 1) << args << ": " << r.err;
    std::string text = read_file(scratch / "peak");
    return std::atol(text.substr(text.rfind('\n', text.size() - 2) + 1).c_str());
}

struct Sizes {
    TempDir dir{scratch_parent()};
    std::map<int, fs::path> source;
};

Sizes* sizes = nullptr;

}  // namespace

class Memory : public ::testing::TestWithParam<const char*> {
protected:
    static void SetUpTestSuite() {
        sizes = new Sizes;
        for (int files : {5000, 50000}) {
            sizes->source[files] = sizes->dir / ("src-" + std::to_string(files));
            small_tree(sizes->source[files], files);
        }
    }
    static void TearDownTestSuite() {
        delete sizes;
        sizes = nullptr;
    }

    // The command's arguments for the tree of `files` files, with fresh
    // empty targets and archives.
    std::string args(int files) {
        fs::path work = sizes->dir / (std::string(GetParam()) + "-" + std::to_string(files));
        fs::remove_all(work);
        fs::create_directories(work / "empty");
        std::string src = q(sizes->source[files]), empty = q(work / "empty"), archive = q(work / "cs.tar.zst");
        std::string command = GetParam();
        if (command == "manifest") return "manifest --no-cache " + src;
        if (command == "diff") return "diff --no-cache --json " + src + " " + empty;
        if (command == "pack") return "pack --no-cache " + src + " --base " + empty + " -o " + archive;
        if (command == "push") return "push --no-cache " + src + " " + empty;
        // apply: the archive of this tree against an empty target
        EXPECT_EQ(cli_run("pack --no-cache " + src + " --base " + empty + " -o " + archive).exit_code, 0);
        return "apply " + archive + " " + empty;
    }
};

TEST_P(Memory, PeakDoesNotGrowWithTheFileCount) {
    long small = peak_kib(args(5000));
    long large = peak_kib(args(50000));
    ASSERT_GT(small, 0);
    std::printf("%s: peak %ld KiB at 5,000 files, %ld KiB at 50,000 (%.2fx)\n", GetParam(), small, large,
                static_cast<double>(large) / static_cast<double>(small));
    EXPECT_LE(static_cast<double>(large), kMargin * static_cast<double>(small)) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Commands, Memory, ::testing::Values("manifest", "diff", "pack", "apply", "push"));
