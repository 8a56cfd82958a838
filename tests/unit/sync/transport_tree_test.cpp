// Scanning through a transport gives the very manifest a local scan gives:
// the scan of a target over SFTP or SMB is the same code on another Tree.
#include <gtest/gtest.h>

#include "manifest/scanner.hpp"
#include "manifest/stat_cache.hpp"
#include "support/random_tree.hpp"
#include "sync/transport_tree.hpp"
#include "transport/local.hpp"

using namespace exmsync;
using namespace exmsync::testing;

TEST(TransportTree, ScansLikeTheLocalScanner) {
    TempDir dir, out;
    TreeMaker(41).make(dir / "t");
    const bool links = makes_symlinks(dir.path());
    if (links) fs::create_symlink("d0/t0.html", dir / "t/link");
#ifndef _WIN32
    write_file(dir / "t/odd\xff.html", "not UTF-8");  // a name Windows cannot hold
#endif
    auto local = transport::make_local_transport(dir / "t");
    auto tree = sync::transport_tree(*local);
    manifest::ScanOptions options;
    manifest::ManifestWriter through(out / "through"), direct(out / "direct");
    auto a = manifest::scan_tree(*tree, options, through);
    auto b = manifest::scan_tree(dir / "t", options, direct);
    EXPECT_EQ(a.root, b.root);
    EXPECT_EQ(read_file(out / "through"), read_file(out / "direct"));
    EXPECT_EQ(a.stats.symlinks, links ? 1u : 0u);
}

// The stat cache works through the tree too: a warm rescan reads nothing.
TEST(TransportTree, WarmRescanThroughTheTreeReadsNothing) {
    TempDir dir, out;
    TreeMaker(42).make(dir / "t");
    auto local = transport::make_local_transport(dir / "t");
    auto tree = sync::transport_tree(*local);
    manifest::ScanOptions options;
    options.cache_in = options.cache_out = out / "cache";
    options.started_ns = manifest::now_ns() + 10'000'000'000;  // past the racy-clean window
    manifest::ManifestWriter cold_out(out / "cold"), warm_out(out / "warm");
    auto cold = manifest::scan_tree(*tree, options, cold_out);
    auto warm = manifest::scan_tree(*tree, options, warm_out);
    EXPECT_GT(cold.stats.hashed_files, 0u);
    EXPECT_EQ(warm.stats.hashed_bytes, 0u);
    EXPECT_EQ(warm.root, cold.root);
    EXPECT_EQ(read_file(out / "warm"), read_file(out / "cold"));
}
