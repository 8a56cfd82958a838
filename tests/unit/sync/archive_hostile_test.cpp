// The archive reader against hostile input: one test per way an archive can
// be wrong, each expecting a one-line sync::Error that names the archive (and
// the entry) and refuses the whole changeset.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "manifest/escape.hpp"
#include "unit/sync/archive_support.hpp"

using namespace exmsync;
using namespace exmsync::sync;
using namespace exmsync::testing;
using namespace exmsync::testing::archives;
using exmsync::testing::TempDir;
using exmsync::testing::read_file;
using exmsync::testing::write_file;

// ---- not a changeset at all --------------------------------------------------

TEST(ArchiveRead, MissingFile) {
    TempDir dir;
    EXPECT_REFUSED((dir / "nope.tar.zst").string(), "cannot read archive", "nope.tar.zst");
}

TEST(ArchiveRead, EmptyFile) {
    TempDir dir;
    write_file(dir / "empty", "");
    EXPECT_REFUSED((dir / "empty").string(), "is not an exmsync changeset");
}

TEST(ArchiveRead, Zip) {
    TempDir dir;
    std::string file = (dir / "cs.zip").string();
    write_raw(file, head(one_file_changeset(), {}), archive_write_set_format_zip, archive_write_add_filter_none);
    EXPECT_REFUSED(file, "cs.zip is not an exmsync changeset (expected a zstd-compressed tar)");
}

TEST(ArchiveRead, FakeRar) {
    TempDir dir;
    write_file(dir / "cs.rar", std::string("Rar!\x1a\x07\x00", 7) + random_bytes(4096, 1));
    EXPECT_REFUSED((dir / "cs.rar").string(), "is not an exmsync changeset");
}

TEST(ArchiveRead, RandomBytes) {
    TempDir dir;
    write_file(dir / "junk", random_bytes(100000, 2));
    EXPECT_REFUSED((dir / "junk").string(), "is not an exmsync changeset");
}

TEST(ArchiveRead, ZstdThatIsNotATar) {
    TempDir dir;
    write_file(dir / "junk.zst", zstd_frame(random_bytes(100000, 3)));
    EXPECT_REFUSED((dir / "junk.zst").string(), "is not an exmsync changeset", "so it may be damaged");
}

TEST(ArchiveRead, UncompressedTar) {
    TempDir dir;
    std::string file = (dir / "cs.tar").string();
    write_raw(file, head(one_file_changeset(), {}), archive_write_set_format_pax_restricted,
              archive_write_add_filter_none);
    EXPECT_REFUSED(file, "is not an exmsync changeset");
}

// ---- damaged ------------------------------------------------------------------

TEST(ArchiveRead, CutInHalf) {
    TempDir dir;
    std::string whole = read_file(write_sample(dir, "cs.tar.zst"));
    write_file(dir / "half.tar.zst", whole.substr(0, whole.size() / 2));
    EXPECT_REFUSED((dir / "half.tar.zst").string(), "half.tar.zst is truncated or damaged");
}

// libarchive's zstd writer adds no frame checksum, so a flipped byte inside a
// file's content passes here and is caught by apply's hash check; a flipped
// byte in the compressed metadata breaks the stream or the metadata.
TEST(ArchiveRead, CorruptMetadata) {
    TempDir dir;
    std::string bytes = read_file(write_sample(dir, "cs.tar.zst"));
    bytes[40] = static_cast<char>(bytes[40] ^ 0x55);
    write_file(dir / "bad.tar.zst", bytes);
    EXPECT_REFUSED((dir / "bad.tar.zst").string(), "bad.tar.zst", "damaged");
}

// ---- the metadata entry ------------------------------------------------------

TEST(ArchiveRead, FirstEntryIsNotTheMetadata) {
    TempDir dir;
    std::string file = (dir / "cs.tar.zst").string();
    auto c = one_file_changeset();
    write_raw(file, {{"files/a.html", "hello"}, metadata_entry(c), ops_entry(c), manifest_entry()});
    EXPECT_REFUSED(file, "'files/a.html'", "comes where exmsync/changeset.json is due");
}

TEST(ArchiveRead, OperationsMissing) {
    TempDir dir;
    std::string file = (dir / "cs.tar.zst").string();
    auto c = one_file_changeset();
    write_raw(file, {metadata_entry(c), {"files/a.html", "hello"}, manifest_entry()});
    EXPECT_REFUSED(file, "'files/a.html'", "comes where exmsync/ops is due");
}

// Version 1 held its operations in the metadata; this exmsync reads
// version 2 only, and says what to do about an old archive.
TEST(ArchiveRead, VersionOneIsRefusedWithAdvice) {
    TempDir dir;
    std::string file = (dir / "cs.tar.zst").string();
    std::string v1 = "{\"base_root\":\"" + std::string(32, '0') + "\",\"format\":\"exmsync-changeset\",\"new_root\":\"" +
                     std::string(32, '1') + "\",\"ops\":[],\"version\":1}";
    write_raw(file, {{kArchiveMetadata, v1}, manifest_entry()});
    EXPECT_REFUSED(file, "format version 1 is not supported", "pack it again with this one");
}

// The operations must be the ones the header counts and hashes.
TEST(ArchiveRead, OperationsThatDoNotMatchTheHeader) {
    TempDir dir;
    std::string file = (dir / "cs.tar.zst").string();
    auto c = one_file_changeset();
    auto other = make_changeset({write_op("a.html", "HELLO")});
    write_raw(file, {metadata_entry(c), ops_entry(other), {"files/a.html", "HELLO"}, manifest_entry()});
    ArchiveReader reader(file);
    EXPECT_THROW(collect(reader), Error);
    std::string why = refusal(file);
    EXPECT_NE(why.find("do not match the hash in its header"), std::string::npos) << why;
}

TEST(ArchiveRead, MetadataLargerThanTheLimit) {
    TempDir dir;
    std::string file = (dir / "cs.tar.zst").string();
    write_bomb(file, nullptr, kArchiveMetadata, kMaxMetadataBytes + 1, 65);
    EXPECT_REFUSED(file, "exmsync/changeset.json", "is larger than");
}

TEST(ArchiveRead, MetadataThatDoesNotDecode) {
    TempDir dir;
    std::string file = (dir / "cs.tar.zst").string();
    write_raw(file, {{kArchiveMetadata, "{\"format\":\"something else\"}"}, {kArchiveOps, ""}, manifest_entry()});
    EXPECT_REFUSED(file, "cs.tar.zst", "not an exmsync changeset");
}

TEST(ArchiveRead, OperationWithAnUnsafePath) {
    TempDir dir;
    std::string file = (dir / "cs.tar.zst").string();
    auto c = one_file_changeset();
    std::string ops = c.ops_text();
    ops.replace(ops.find("a.html"), 6, "../a.h");
    write_raw(file, {metadata_entry(c), {kArchiveOps, ops}, {"files/a.html", "hello"}, manifest_entry()});
    EXPECT_REFUSED(file, "'../a.h' is not allowed", "'..' path component");
}

// ---- entries that are not regular files --------------------------------------

struct KindCase {
    const char* what;
    RawEntry entry;
};

class NotRegular : public ::testing::TestWithParam<KindCase> {};

TEST_P(NotRegular, IsRefused) {
    TempDir dir;
    std::string file = (dir / "cs.tar.zst").string();
    write_raw(file, head(one_file_changeset(), {GetParam().entry, manifest_entry()}));
    // No closing quote: libarchive writes a directory's name with a trailing '/'.
    EXPECT_REFUSED(file, "entry 'files/a.html", GetParam().what, "refusing the whole changeset");
}

INSTANTIATE_TEST_SUITE_P(
    Archive, NotRegular,
    ::testing::Values(KindCase{"a symlink", link_entry("files/a.html", "", "/etc/passwd")},
                      KindCase{"a hard link", link_entry("files/a.html", "exmsync/changeset.json", "")},
                      KindCase{"a directory", RawEntry("files/a.html", "", AE_IFDIR)},
                      KindCase{"a character device", RawEntry("files/a.html", "", AE_IFCHR)},
                      KindCase{"a block device", RawEntry("files/a.html", "", AE_IFBLK)},
                      KindCase{"a FIFO", RawEntry("files/a.html", "", AE_IFIFO)}));
// A socket cannot be written to a tar at all (libarchive refuses), so it
// needs no case of its own; the reader's type check covers it all the same.

// ---- unsafe names ------------------------------------------------------------

class UnsafeName : public ::testing::TestWithParam<std::pair<const char*, const char*>> {};

TEST_P(UnsafeName, IsRefused) {
    TempDir dir;
    std::string file = (dir / "cs.tar.zst").string();
    auto [name, why] = GetParam();
    write_raw(file, head(one_file_changeset(), {{name, "hello"}, manifest_entry()}));
#ifdef _WIN32
    // libarchive on Windows reads '\\' in a name as '/': the entry arrives as
    // files/dir/a.html, which the changeset does not write either.
    if (std::string(name).find('\\') != std::string::npos) {
        EXPECT_REFUSED(file, "is not a file the changeset writes", "refusing the whole changeset");
        return;
    }
#endif
    EXPECT_REFUSED(file, "entry '" + manifest::escape_path(name) + "'", why, "refusing the whole changeset");
}

INSTANTIATE_TEST_SUITE_P(Archive, UnsafeName,
                         ::testing::Values(std::pair{"files/../etc/passwd", "unsafe path"},
                                           std::pair{"/etc/passwd", "absolute"},
                                           std::pair{"files/./a.html", "unsafe path"},
                                           std::pair{"files//a.html", "empty path component"},
                                           std::pair{"files/..", "unsafe path"},
                                           std::pair{"./files/a.html", "unsafe path"},
                                           std::pair{"files/dir\\a.html", "backslash"},
                                           std::pair{"C:/a.html", "drive letter"},
                                           std::pair{"files/C:/a.html", "drive letter"},
                                           std::pair{"other/a.html", "is not under files/"},
                                           std::pair{"exmsync/ops", "is not under files/"},
                                           std::pair{"a.html", "is not under files/"}));

// ---- entries that do not match the metadata ----------------------------------

TEST(ArchiveRead, FileTheChangesetDoesNotWrite) {
    TempDir dir;
    std::string file = (dir / "cs.tar.zst").string();
    write_raw(file, head(one_file_changeset(), {{"files/a.html", "hello"}, {"files/b.html", "extra"}, manifest_entry()}));
    EXPECT_REFUSED(file, "'files/b.html'", "is not a file the changeset writes");
}

TEST(ArchiveRead, DuplicateFile) {
    TempDir dir;
    std::string file = (dir / "cs.tar.zst").string();
    write_raw(file, head(one_file_changeset(), {{"files/a.html", "hello"}, {"files/a.html", "hello"}, manifest_entry()}));
    EXPECT_REFUSED(file, "'files/a.html'", "is not a file the changeset writes (or comes twice)");
}

TEST(ArchiveRead, FilesOutOfOrder) {
    TempDir dir;
    std::string file = (dir / "cs.tar.zst").string();
    auto c = make_changeset({write_op("a.html", "a"), write_op("b.html", "b")});
    write_raw(file, head(c, {{"files/b.html", "b"}, {"files/a.html", "a"}, manifest_entry()}));
    EXPECT_REFUSED(file, "'files/b.html'", "comes where the content of 'a.html' is due");
}

TEST(ArchiveRead, SizeDiffersFromTheChangeset) {
    TempDir dir;
    std::string file = (dir / "cs.tar.zst").string();
    write_raw(file, head(one_file_changeset(), {{"files/a.html", "hello!"}, manifest_entry()}));
    EXPECT_REFUSED(file, "'files/a.html'", "holds 6 bytes where the changeset says 5");
}

TEST(ArchiveRead, RenameCarriesNoContent) {
    TempDir dir;
    std::string file = (dir / "cs.tar.zst").string();
    auto c = make_changeset({[] {
        Op rename = write_op("moved.html", "moved");
        rename.kind = OpKind::Rename;
        rename.from = "was.html";
        rename.base = file_expect("moved");
        return rename;
    }()});
    write_raw(file, head(c, {{"files/moved.html", "moved"}}));
    EXPECT_REFUSED(file, "'files/moved.html'", "is not a file the changeset writes");
}

// Header bytes are not declared by the metadata; a header far larger than any
// path needs is refused as soon as libarchive has read it.
TEST(ArchiveRead, HugeHeaderIsRefused) {
    TempDir dir;
    std::string file = (dir / "cs.tar.zst").string();
    RawEntry padded_entry("files/a.html", "hello");
    padded_entry.xattr = std::string(200 << 10, 'x');  // over our 64 KiB slack, under libarchive's cap
    write_raw(file, head(one_file_changeset(), {padded_entry, manifest_entry()}));
    EXPECT_REFUSED(file, "is truncated or damaged: more data than declared");
}

// ---- the manifest ------------------------------------------------------------

TEST(ArchiveRead, ManifestMissing) {
    TempDir dir;
    std::string file = (dir / "cs.tar.zst").string();
    write_raw(file, head(one_file_changeset(), {{"files/a.html", "hello"}}));
    EXPECT_REFUSED(file, "is truncated", "no exmsync/manifest");
}

TEST(ArchiveRead, ManifestTwice) {
    TempDir dir;
    std::string file = (dir / "cs.tar.zst").string();
    write_raw(file, head(one_file_changeset(), {{"files/a.html", "hello"}, manifest_entry(), manifest_entry()}));
    EXPECT_REFUSED(file, "'exmsync/manifest'", "appears twice");
}

TEST(ArchiveRead, ManifestLargerThanTheLimit) {
    TempDir dir;
    std::string file = (dir / "cs.tar.zst").string();
    auto empty = make_changeset({});
    write_bomb(file, &empty, kArchiveManifest, kMaxManifestBytes + 1, 8);
    EXPECT_REFUSED(file, "'exmsync/manifest'", "is larger than");
}

TEST(ArchiveRead, EntryAfterTheManifest) {
    TempDir dir;
    std::string file = (dir / "cs.tar.zst").string();
    auto empty = make_changeset({});
    write_raw(file, head(empty, {manifest_entry(), {"files/a.html", "hello"}}));
    EXPECT_REFUSED(file, "'files/a.html'", "comes after exmsync/manifest");
}

TEST(ArchiveRead, ContentThatNeverCame) {
    TempDir dir;
    std::string file = (dir / "cs.tar.zst").string();
    write_raw(file, head(one_file_changeset(), {manifest_entry()}));
    EXPECT_REFUSED(file, "is truncated: no content for 'a.html'");
}

TEST(ArchiveRead, EntriesAreCheckedBeforeTheyAreHandedOver) {
    TempDir dir;
    std::string file = (dir / "cs.tar.zst").string();
    write_raw(file, head(one_file_changeset(), {{"files/a.html", "hello"}, {"files/x", "x"}, manifest_entry()}));
    ArchiveReader reader(file);
    std::vector<std::string> taken;
    EXPECT_THROW(reader.each([&](const std::string& name, std::uint64_t, transport::Reader&) { taken.push_back(name); }),
                 Error);
    EXPECT_EQ(taken, std::vector<std::string>{"files/a.html"});
}

// ---- zstd bomb ---------------------------------------------------------------

// 4 GiB of zeros behind a header that claims them, where the operations say
// 10 bytes: refused from the header alone, before any of its data is read
// (the take callback never runs).
TEST(ArchiveRead, BombIsRefusedBeforeDecompressing) {
    TempDir dir;
    std::string file = (dir / "bomb.tar.zst").string();
    auto c = make_changeset({write_op("a.html", "0123456789")});
    write_bomb(file, &c, "files/a.html", 4ull << 30, 4096);
    EXPECT_LT(boost::filesystem::file_size(file), 2u << 20) << "not a bomb";
    EXPECT_REFUSED(file, "'files/a.html'", "holds 4294967296 bytes where the changeset says 10");
    ArchiveReader reader(file);
    bool taken = false;
    EXPECT_THROW(reader.each([&](const std::string&, std::uint64_t, transport::Reader&) { taken = true; }), Error);
    EXPECT_FALSE(taken);
}

// The bomb's payload really is there: a changeset declaring those 4 GiB makes
// the reader stream them (checked only up to the first MiB).
TEST(ArchiveRead, BombPayloadIsReal) {
    TempDir dir;
    std::string file = (dir / "bomb.tar.zst").string();
    Op op = write_op("a.html", "");
    op.size = 4ull << 30;
    auto c = make_changeset({op});
    write_bomb(file, &c, "files/a.html", 4ull << 30, 4096);
    ArchiveReader reader(file);
    std::uint64_t got = 0;
    struct Stop {};
    try {
        reader.each([&](const std::string&, std::uint64_t, transport::Reader& r) {
            char buffer[65536];
            while (std::size_t n = r.read(buffer, sizeof buffer)) {
                got += n;
                if (got >= (1u << 20)) throw Stop{};
            }
        });
    } catch (const Stop&) {
    }
    EXPECT_GE(got, 1u << 20);
}
