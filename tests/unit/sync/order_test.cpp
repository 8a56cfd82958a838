// Commit order and symlinks on the target, seen through a transport that
// records what the apply does.
#include <gtest/gtest.h>

#include "support/faulty_transport.hpp"
#include "support/random_tree.hpp"
#include "support/tree_root.hpp"
#include "sync/apply.hpp"
#include "sync/push.hpp"
#include "sync/rollback.hpp"
#include "transport/local.hpp"

using namespace exmsync;
using namespace exmsync::testing;

namespace {

class RecordingTransport : public FaultyTransport {
public:
    using FaultyTransport::FaultyTransport;
    void rename(const std::string& from, const std::string& to) override {
        renames.push_back(to);
        FaultyTransport::rename(from, to);
    }
    std::optional<transport::Stat> stat(const std::string& path) override {
        ++reads;
        return FaultyTransport::stat(path);
    }
    std::vector<transport::DirEntry> list(const std::string& dir) override {
        ++reads;
        return FaultyTransport::list(dir);
    }
    std::vector<std::string> renames;
    std::uint64_t reads = 0;
};

sync::TargetResult push_recorded(const fs::path& source, const fs::path& target, RecordingTransport*& out,
                                 std::unique_ptr<transport::Transport>& keep) {
    sync::PushOptions options;
    auto src = sync::PushSource::open(source.string(), options);
    keep = transport::make_local_transport(target);
    out = new RecordingTransport(*keep);
    return sync::push_to(*out, target.string(), *src, options);
}

}  // namespace

TEST(CommitOrder, ConfigFilesAreMovedIntoPlaceLast) {
    TempDir dir;
    write_file(dir / "src/App_Config/Include/EmailExperience/Sitecore.EXM.config", "<config/>");
    write_file(dir / "src/Web.config", "<web/>");
    for (int i = 0; i < 10; ++i) write_file(dir / ("src/Imported/t" + std::to_string(i) + ".html"), "t");
    write_file(dir / "src/zzz/last-by-name.html", "z");
    fs::create_directories(dir / "t");
    RecordingTransport* recorded = nullptr;
    std::unique_ptr<transport::Transport> keep;
    auto r = push_recorded(dir / "src", dir / "t", recorded, keep);
    std::unique_ptr<RecordingTransport> owner(recorded);
    ASSERT_TRUE(r.ok) << r.error;
    std::vector<std::string> into_place;
    for (const auto& to : recorded->renames)
        if (to.rfind(".exmsync", 0) != 0) into_place.push_back(to);
    // The new folders of templates move whole; the configs, one by one, last.
    ASSERT_EQ(into_place.size(), 4u);
    EXPECT_EQ(into_place[0], "Imported");
    EXPECT_EQ(into_place[1], "zzz");
    EXPECT_EQ(into_place[2], "App_Config/Include/EmailExperience/Sitecore.EXM.config");
    EXPECT_EQ(into_place[3], "Web.config");
}

// A new folder is staged whole and moved into place by one rename, unless
// it holds a configuration file or a file renamed into it; a new folder
// inside one that moves whole moves with it.
TEST(CommitOrder, NewFoldersMoveIntoPlaceWhole) {
    TempDir dir;
    for (int i = 0; i < 20; ++i) write_file(dir / ("src/Imported/Campaign/t" + std::to_string(i) + ".html"), "t");
    write_file(dir / "src/Imported/Campaign/images/logo.png", "png");
    write_file(dir / "src/old/moved.html", "moved");
    write_file(dir / "src/keep.html", "k");
    fs::create_directories(dir / "src/empty/inner");
    fs::create_directories(dir / "t");
    RecordingTransport* recorded = nullptr;
    std::unique_ptr<transport::Transport> keep;
    ASSERT_TRUE(push_recorded(dir / "src", dir / "t", recorded, keep).ok);
    std::unique_ptr<RecordingTransport> first(recorded);
    std::vector<std::string> into_place;
    for (const auto& to : recorded->renames)
        if (to.rfind(".exmsync", 0) != 0) into_place.push_back(to);
    EXPECT_EQ(into_place, (std::vector<std::string>{"Imported", "empty", "keep.html", "old"}));

    // Then: a new folder beside a renamed file and a new config.
    fs::create_directories(dir / "src/renamed-into");
    fs::rename(dir / "src/old/moved.html", dir / "src/renamed-into/moved.html");
    write_file(dir / "src/App_Config/Include/Sitecore.New.config", "<c/>");
    write_file(dir / "src/Imported/Second/a.html", "a");
    ASSERT_TRUE(push_recorded(dir / "src", dir / "t", recorded, keep).ok);
    std::unique_ptr<RecordingTransport> second(recorded);
    into_place.clear();
    for (const auto& to : recorded->renames)
        if (to.rfind(".exmsync", 0) != 0) into_place.push_back(to);
    EXPECT_EQ(into_place, (std::vector<std::string>{"Imported/Second", "renamed-into/moved.html",
                                                    "App_Config/Include/Sitecore.New.config"}));
    EXPECT_EQ(tree_root(dir / "t"), tree_root(dir / "src"));
}

TEST(Symlinks, SourceLinksAreNotPushedAndTargetLinksAreReplacedNotFollowed) {
    TempDir dir, outside;
    if (!makes_symlinks(dir.path())) GTEST_SKIP() << "no symlinks can be made here";
    write_file(outside / "sentinel.html", "do not touch");
    write_file(dir / "src/evil/inside.html", "real folder on the source");
    write_file(dir / "src/page.html", "page");
    fs::create_symlink(outside.path(), dir / "src/link-on-source");
    fs::create_directories(dir / "t");
    fs::create_symlink(outside.path(), dir / "t/evil");  // planted on the target
    auto report = sync::push((dir / "src").string(), {(dir / "t").string()}, {});
    ASSERT_TRUE(report.all_ok()) << report.targets[0].error;
    bool warned = false;
    for (const auto& w : report.source_scan.warnings) warned = warned || w.find("link-on-source") != std::string::npos;
    EXPECT_TRUE(warned) << (report.source_scan.warnings.empty() ? "no warnings" : report.source_scan.warnings[0]);
    EXPECT_FALSE(fs::exists(fs::symlink_status(dir / "t/link-on-source")));
    EXPECT_FALSE(fs::is_symlink(dir / "t/evil"));
    EXPECT_EQ(read_file(dir / "t/evil/inside.html"), "real folder on the source");
    EXPECT_EQ(read_file(outside / "sentinel.html"), "do not touch");
    EXPECT_FALSE(fs::exists(outside / "inside.html"));
    EXPECT_EQ(std::distance(fs::directory_iterator(outside.path()), fs::directory_iterator()), 1);
}

// Every apply prunes the backups past the last five. It looks only at what
// is there: a history ten times longer costs the apply no more requests
// (over SMB each is a round trip, and they used to grow with every apply).
TEST(CommitOrder, PruningCostsTheSameHoweverLongTheHistory) {
    TempDir dir;
    write_file(dir / "src/Imported/a/b/c/t.html", "0");
    fs::create_directories(dir / "t");
    std::vector<std::uint64_t> reads;
    for (int i = 1; i <= 30; ++i) {
        write_file(dir / "src/Imported/a/b/c/t.html", std::to_string(i));
        RecordingTransport* recorded = nullptr;
        std::unique_ptr<transport::Transport> keep;
        auto r = push_recorded(dir / "src", dir / "t", recorded, keep);
        std::unique_ptr<RecordingTransport> owner(recorded);
        ASSERT_TRUE(r.ok) << r.error;
        reads.push_back(recorded->reads);
    }
    EXPECT_EQ(reads[9], reads[29]);
    std::size_t backups = 0;
    for (fs::directory_iterator it(dir / "t/.exmsync/backup"), end; it != end; ++it) ++backups;
    EXPECT_EQ(backups, 5u);
    std::size_t ops = 0, manifests = 0, records = 0;
    for (fs::directory_iterator it(dir / "t/.exmsync/history"), end; it != end; ++it) {
        auto ext = it->path().extension();
        ops += ext == ".ops";
        manifests += ext == ".manifest";
        records += ext == ".json";
    }
    EXPECT_EQ(records, 31u);  // 000000 and every apply
    EXPECT_EQ(ops, 5u);
    EXPECT_EQ(manifests, 6u);  // the last five, and the one before them, whose state their backups restore

    // history offers a rollback to those six only, and a rollback to an
    // older apply is refused with the target left as it is.
    auto local = transport::make_local_transport(dir / "t");
    sync::DirectTarget target(*local);
    auto entries = target.history();
    ASSERT_EQ(entries.size(), 31u);
    for (std::size_t i = 0; i < entries.size(); ++i)
        EXPECT_EQ(entries[i].rollback_possible, i >= 25) << entries[i].record.apply_id;
    const auto before = tree_root(dir / "t");
    try {
        sync::rollback(*local, entries[24].record.apply_id, {});
        ADD_FAILURE() << "a rollback past the pruned backups went through";
    } catch (const sync::Error& e) {
        EXPECT_NE(std::string(e.what()).find("were pruned"), std::string::npos) << e.what();
    }
    EXPECT_EQ(tree_root(dir / "t"), before);
    sync::rollback(*local, entries[25].record.apply_id, {});
    EXPECT_EQ(read_file(dir / "t/Imported/a/b/c/t.html"), "25");
}
