#include <gtest/gtest.h>

#include "manifest/diff.hpp"
#include "manifest/file_system.hpp"

using namespace exmsync::manifest;

namespace {

Entry dir(std::string p) { return Entry{std::move(p), EntryType::Directory, 0, {}}; }
Entry file(std::string p, const std::string& content) {
    return Entry{std::move(p), EntryType::File, content.size(), hash_bytes(content)};
}
Entry symlink_entry(std::string p, const std::string& target) {
    return Entry{std::move(p), EntryType::Symlink, target.size(), hash_bytes(target)};
}

DiffResult diff(std::vector<Entry> a, std::vector<Entry> b, DiffOptions options = {}) {
    VectorStream sa(std::move(a)), sb(std::move(b));
    return diff_all(sa, sb, options);
}

std::string summary(const DiffResult& d) {
    std::string out;
    for (const auto& c : d.changes) {
        out += change_code(c.kind);
        if (c.kind == ChangeKind::Renamed) out += c.before->path + "->";
        out += c.path + ";";
    }
    return out;
}

}  // namespace

TEST(Diff, SameTreesHaveNoChanges) {
    std::vector<Entry> t = {dir("a"), file("a/x.html", "x"), file("b.config", "b")};
    auto d = diff(t, t);
    EXPECT_TRUE(d.same());
    EXPECT_EQ(d.root_a, d.root_b);
}

TEST(Diff, EachKindOfChange) {
    std::vector<Entry> a = {dir("a"),         file("a/gone.html", "gone"), file("a/keep.html", "keep"),
                            file("a/mod.html", "old"), file("a/move.png", "image-bytes"),
                            file("t", "was a file"), dir("u"), file("u/inner", "i")};
    std::vector<Entry> b = {dir("a"),        file("a/keep.html", "keep"), file("a/mod.html", "new!"),
                            file("a/new.html", "new"), dir("b"), file("b/moved.png", "image-bytes"),
                            dir("t"), symlink_entry("u", "target")};
    auto d = diff(a, b);
    EXPECT_EQ(summary(d),
              "D a/gone.html;M a/mod.html;A a/new.html;A b;R a/move.png->b/moved.png;T t;T u;D u/inner;");
}

TEST(Diff, RenameDetectionCanBeTurnedOff) {
    std::vector<Entry> a = {file("old.html", "same")};
    std::vector<Entry> b = {file("new.html", "same")};
    EXPECT_EQ(summary(diff(a, b)), "R old.html->new.html;");
    DiffOptions plain;
    plain.detect_renames = false;
    EXPECT_EQ(summary(diff(a, b, plain)), "A new.html;D old.html;");
}

TEST(Diff, EqualSubtreesAreSkipped) {
    std::vector<Entry> a = {dir("big"), file("big/1", "1"), file("big/2", "2"), dir("small"), file("small/x", "x")};
    auto b = a;
    b.back() = file("small/x", "y");
    auto d = diff(a, b);
    EXPECT_EQ(summary(d), "M small/x;");
    EXPECT_EQ(d.skipped_subtrees, 1u);
}

// Rename pairing goes through external sorts: several files of one content
// pair up in manifest order, whatever the sizes of the lists.
TEST(Diff, RenamesOfEqualContentsPairInManifestOrder) {
    std::vector<Entry> a = {file("a1", "same"), file("a2", "same"), file("a3", "other"), file("keep", "k")};
    std::vector<Entry> b = {file("keep", "k"), file("z1", "same"), file("z2", "same"), file("z3", "new")};
    EXPECT_EQ(summary(diff(a, b)), "D a3;R a1->z1;R a2->z2;A z3;");
    auto d = diff(a, b);
    EXPECT_EQ(d.change_count, 4u);
}

TEST(Diff, StreamsEveryChangeToTheSink) {
    std::vector<Entry> a, b;
    for (int i = 0; i < 3000; ++i) a.push_back(file("f" + std::to_string(100000 + i), "c" + std::to_string(i)));
    for (int i = 0; i < 3000; ++i) b.push_back(file("g" + std::to_string(100000 + i), "c" + std::to_string(i)));
    VectorStream sa(a), sb(b);
    std::uint64_t renames = 0;
    std::string last;
    diff_streams(sa, sb, {}, [&](const Change& c) {
        EXPECT_EQ(c.kind, ChangeKind::Renamed);
        EXPECT_EQ(c.before->path, "f" + c.path.substr(1));
        EXPECT_LT(compare_paths(last, c.path), 0);
        last = c.path;
        ++renames;
    });
    EXPECT_EQ(renames, 3000u);
}

TEST(Diff, SameContentSameSizeDifferentPathIsNotAModification) {
    // Modification is content: a size change with the same hash prefix still counts.
    std::vector<Entry> a = {file("x", "abc")};
    std::vector<Entry> b = {file("x", "abcd")};
    EXPECT_EQ(summary(diff(a, b)), "M x;");
}
