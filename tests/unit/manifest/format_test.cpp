#include <gtest/gtest.h>

#include <sstream>

#include "manifest/error.hpp"
#include "manifest/file_system.hpp"
#include "manifest/format.hpp"
#include "support/temp_tree.hpp"

using namespace exmsync::manifest;
using exmsync::testing::read_file;
using exmsync::testing::TempDir;
using exmsync::testing::write_file;

namespace {

Entry file(std::string path, std::string content) {
    return Entry{std::move(path), EntryType::File, content.size(), hash_bytes(content)};
}

std::vector<Entry> sample() {
    return {
        Entry{"a", EntryType::Directory, 0, {}},
        file("a/b.html", "<html>b</html>"),
        Entry{"a/sub", EntryType::Directory, 0, {}},
        file("a/sub/new\nline", ""),
        file("a/tab\there", "odd"),
        file("a-c.png", "png"),
        Entry{"link", EntryType::Symlink, 4, Hash128{1, 2}},
        file("z\xff.config", "<config/>"),
    };
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    return lines;
}

std::string join(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
}

}  // namespace

TEST(ManifestFormat, EncodeDecodeEncodeIsByteIdentical) {
    TempDir dir;
    auto first = dir / "one";
    auto second = dir / "two";
    Hash128 root = write_manifest(first, sample());
    ManifestReader reader(first);
    EXPECT_EQ(reader.root(), root);
    auto entries = read_all(reader);
    ASSERT_EQ(entries.size(), sample().size());
    EXPECT_EQ(entries[3].path, "a/sub/new\nline");
    EXPECT_EQ(entries[4].path, "a/tab\there");
    EXPECT_EQ(entries[7].path, "z\xff.config");
    EXPECT_EQ(write_manifest(second, entries), root);
    EXPECT_EQ(read_file(first), read_file(second));
}

TEST(ManifestFormat, RootHashCoversContentOnly) {
    auto a = sample();
    auto b = sample();
    VectorStream sa(a), sb(b);
    EXPECT_EQ(sa.root(), sb.root());
    b[1].hash.low ^= 1;
    VectorStream changed(b);
    EXPECT_NE(changed.root(), sa.root());
    auto renamed = sample();
    renamed[1].path = "a/b2.html";
    EXPECT_NE(VectorStream(renamed).root(), sa.root());
}

TEST(ManifestFormat, HeaderAndLinesLookAsDocumented) {
    TempDir dir;
    write_manifest(dir / "m", {file("x.html", "hello\n")});
    auto lines = lines_of(read_file(dir / "m"));
    ASSERT_EQ(lines.size(), 4u);
    EXPECT_EQ(lines[0], "exmsync-manifest\t1");
    EXPECT_EQ(lines[1].substr(0, 5), "root\t");
    // XXH3-128 of "hello\n", as `xxhsum -H2` prints it.
    EXPECT_EQ(lines[2], "f\t6\t6bba86c7e069f56d5a10b435f1c8e49c\tx.html");
    EXPECT_EQ(lines[3], "end\t1");
}

struct Corruption {
    const char* name;
    std::function<void(std::vector<std::string>&)> edit;
    int line;
};

class CorruptManifest : public ::testing::TestWithParam<Corruption> {};

TEST_P(CorruptManifest, IsRefusedWithFileAndLineNumber) {
    TempDir dir;
    auto path = dir / "m";
    write_manifest(path, sample());
    auto lines = lines_of(read_file(path));
    GetParam().edit(lines);
    write_file(path, join(lines));
    try {
        ManifestReader reader(path);
        read_all(reader);
        FAIL() << "accepted a manifest with: " << GetParam().name;
    } catch (const Error& e) {
        std::string msg = e.what();
        EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;
        EXPECT_NE(msg.find("line " + std::to_string(GetParam().line)), std::string::npos) << msg;
        EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
}

// Lines: 1 header, 2 root, 3..10 entries (a, a/b.html, a/sub, a/sub/new, a/tab, a-c.png, link, z), 11 end.
INSTANTIATE_TEST_SUITE_P(
    Cases, CorruptManifest,
    ::testing::Values(
        Corruption{"unknown version", [](auto& l) { l[0] = "exmsync-manifest\t2"; }, 1},
        Corruption{"not a manifest", [](auto& l) { l[0] = "hello"; }, 1},
        Corruption{"header with a third field", [](auto& l) { l[0] += "\tx"; }, 1},
        Corruption{"root with a third field", [](auto& l) { l[1] += "\tx"; }, 2},
        Corruption{"raw tab in a path", [](auto& l) { l[9] += "\tmore"; }, 10},
        Corruption{"end with a third field", [](auto& l) { l[10] += "\t0"; }, 11},
        Corruption{"bad root", [](auto& l) { l[1] = "root\txyz"; }, 2},
        Corruption{"truncated", [](auto& l) { l.resize(7); }, 8},
        Corruption{"truncated line", [](auto& l) { l[4] = l[4].substr(0, 10); }, 5},
        Corruption{"bad hex", [](auto& l) { l[3][6] = 'Z'; }, 4},
        Corruption{"bad size", [](auto& l) { l[3].replace(2, 2, "-1"); }, 4},
        Corruption{"unknown type", [](auto& l) { l[3][0] = 'x'; }, 4},
        Corruption{"unsorted", [](auto& l) { std::swap(l[7], l[9]); }, 9},
        Corruption{"duplicate", [](auto& l) { l.insert(l.begin() + 9, l[8]); }, 10},
        Corruption{"dotdot", [](auto& l) { l[9] = l[9].substr(0, l[9].rfind('\t') + 1) + "../../etc/passwd"; }, 10},
        Corruption{"absolute", [](auto& l) { l[9] = l[9].substr(0, l[9].rfind('\t') + 1) + "/etc/passwd"; }, 10},
        Corruption{"content edited", [](auto& l) { l[3][20] = l[3][20] == '0' ? '1' : '0'; }, 8},
        Corruption{"wrong count", [](auto& l) { l[10] = "end\t3"; }, 11},
        Corruption{"data after end", [](auto& l) { l.push_back("f\t1\t00000000000000000000000000000000\tzz"); }, 12},
        Corruption{"bad escape", [](auto& l) { l[9] = l[9].substr(0, l[9].rfind('\t') + 1) + "z\\q"; }, 10}),
    [](const auto& info) {
        std::string n = info.param.name;
        for (char& c : n)
            if (!isalnum(static_cast<unsigned char>(c))) c = '_';
        return n;
    });

TEST(ManifestFormat, EmptyFileAndMissingFileAreErrors) {
    TempDir dir;
    write_file(dir / "empty", "");
    EXPECT_THROW(ManifestReader(dir / "empty"), Error);
    EXPECT_THROW(ManifestReader(dir / "missing"), Error);
}

TEST(ManifestFormat, WriterRefusesUnsafeOrUnsortedEntries) {
    TempDir dir;
    ManifestWriter w(dir / "m");
    w.add(file("b", "x"));
    EXPECT_THROW(w.add(file("a", "x")), Error);
    EXPECT_THROW(w.add(file("../c", "x")), Error);
}
