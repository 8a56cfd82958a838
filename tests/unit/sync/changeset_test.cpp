// The changeset format: a header and an operation list, both canonical, both
// checked line by line when read back.
#include <gtest/gtest.h>

#include "manifest/file_system.hpp"
#include "support/temp_tree.hpp"
#include "sync/changeset.hpp"
#include "sync/error.hpp"

using namespace exmsync;
using namespace exmsync::sync;
using exmsync::testing::TempDir;
using exmsync::testing::read_file;
using exmsync::testing::write_file;

namespace {

Op write(std::string path, std::optional<Expect> base = std::nullopt) {
    Op op;
    op.kind = OpKind::Write;
    op.path = std::move(path);
    op.size = 5;
    op.hash = manifest::hash_bytes("hello");
    op.mtime_ns = 1'600'000'000'123'456'789;
    op.base = base;
    return op;
}

Expect file_base() { return Expect{manifest::EntryType::File, 3, manifest::hash_bytes("old")}; }
Expect folder_base() { return Expect{manifest::EntryType::Directory, 0, {}}; }

Op op_of(OpKind kind, std::string path, std::optional<Expect> base = std::nullopt) {
    Op op;
    op.kind = kind;
    op.path = std::move(path);
    op.base = base;
    return op;
}

// Every kind of operation, in list order, with names that need escaping.
std::vector<Op> sample_ops() {
    Op ren = write("new folder/a.png");
    ren.kind = OpKind::Rename;
    ren.from = "a.png";
    ren.size = 3;
    ren.hash = file_base().hash;
    ren.base = file_base();
    return {op_of(OpKind::Rmdir, "empty", folder_base()), write("m.config", file_base()),
            op_of(OpKind::Mkdir, "new folder"), ren, write("new folder/x.html"),
            op_of(OpKind::Delete, "old\tname\xff.html", file_base()),
            // A folder that becomes a file: removal first, at the same path.
            op_of(OpKind::Rmdir, "z", folder_base()), write("z")};
}

ChangesetHeader write_list(const boost::filesystem::path& file, const std::vector<Op>& ops, bool portable = true) {
    ChangesetHeader header;
    OpListWriter writer(file, portable);
    for (const auto& op : ops) writer.add(op);
    writer.finish(header);
    header.base_root = manifest::hash_bytes("base");
    header.new_root = manifest::hash_bytes("new");
    header.filter = {{"**/*.html"}, {"Thumbs.db"}, false};
    return header;
}

std::vector<Op> read_list(const boost::filesystem::path& file, const ChangesetHeader& header) {
    OpListReader reader(file, header, "test");
    std::vector<Op> ops;
    Op op;
    while (reader.next(op)) ops.push_back(op);
    return ops;
}

std::string refusal_of(const std::function<void()>& action) {
    try {
        action();
    } catch (const Error& e) {
        return e.what();
    }
    return "accepted";
}

}  // namespace

TEST(Changeset, HeaderEncodeDecodeEncodeIsByteIdentical) {
    TempDir dir;
    auto header = write_list(dir / "ops", sample_ops());
    std::string once = encode_header(header);
    ChangesetHeader back = decode_header(once, "test");
    EXPECT_EQ(back, header);
    EXPECT_EQ(encode_header(back), once);
    EXPECT_EQ(back.id(), header.id());
    EXPECT_EQ(header.id().size(), 16u);
    EXPECT_EQ(header.counts.ops(), 8u);
    EXPECT_EQ(header.counts.writes, 3u);
    EXPECT_EQ(header.counts.bytes, 15u);
}

TEST(Changeset, OperationsRoundTripThroughTheList) {
    TempDir dir;
    auto ops = sample_ops();
    auto header = write_list(dir / "ops", ops);
    EXPECT_EQ(read_list(dir / "ops", header), ops);
    for (const auto& op : ops) EXPECT_EQ(decode_op(encode_op(op), "test", true), op);
    EXPECT_NE(read_file(dir / "ops").find("\"type\":\"directory\""), std::string::npos);  // the one vocabulary
}

TEST(Changeset, IdCoversTheOperations) {
    TempDir dir;
    auto ops = sample_ops();
    auto a = write_list(dir / "a", ops);
    ops[1].mtime_ns += 1;
    auto b = write_list(dir / "b", ops);
    EXPECT_NE(a.id(), b.id());
}

TEST(Changeset, ReaderRefusesAListThatDoesNotMatchItsHeader) {
    TempDir dir;
    auto header = write_list(dir / "ops", sample_ops());
    std::string text = read_file(dir / "ops");
    write_file(dir / "cut", text.substr(0, text.rfind('\n', text.size() - 2) + 1));
    EXPECT_NE(refusal_of([&] { read_list(dir / "cut", header); }).find("do not add up to the counts"),
              std::string::npos);
    std::string edited = text;
    edited.replace(edited.find("1600000000123456789"), 19, "1600000000123456788");
    write_file(dir / "edited", edited);
    EXPECT_NE(refusal_of([&] { read_list(dir / "edited", header); }).find("do not match the hash"), std::string::npos);
}

TEST(Changeset, RefusesUnsafeOrContradictoryOperations) {
    auto refused = [](std::vector<Op> ops, const char* why) {
        TempDir dir;
        std::string message = refusal_of([&] { write_list(dir / "ops", ops); });
        EXPECT_NE(message.find(why), std::string::npos) << message;
    };
    refused({write("../escape.html")}, "'..' path component");
    refused({write("/etc/passwd")}, "absolute path");
    Op ren = sample_ops()[3];
    ren.from = "a/./b";
    refused({ren}, "'.' path component");
    ren.from = ren.path;
    refused({ren}, "onto itself");
    refused({write("x.html"), write("x.html")}, "touched twice");
    refused({write("b.html"), write("a.html")}, "out of order");
    refused({op_of(OpKind::Delete, "gone.html")}, "without its base");
    refused({op_of(OpKind::Rmdir, "f", file_base())}, "which is not a folder");
    refused({op_of(OpKind::Mkdir, "d", file_base())}, "with a base");
}

// The state folder is never touched, in any letter case, at any depth.
TEST(Changeset, StateFolderInAnyCaseIsRefused) {
    for (const char* path : {".exmsync/lock", ".EXMSYNC", "a/.ExmSync/current"}) {
        EXPECT_NE(path_problem(path, true, true).find("state folder"), std::string::npos) << path;
        EXPECT_NE(path_problem(path, false, false).find("state folder"), std::string::npos) << path;
    }
}

// What a portable changeset creates must mean the same on Windows; what it
// removes was found on the target and only has to be a safe path.
TEST(Changeset, PortableRulesApplyToWhatIsCreated) {
    for (const char* name : {"web.config:payload", "a\\b.html", "CON", "nul.txt", "promo.html.", "x ", "C:"}) {
        EXPECT_NE(path_problem(std::string("Imported/") + name, true, true), "") << name;
        EXPECT_EQ(path_problem(std::string("Imported/") + name, false, true), "") << name;
        EXPECT_EQ(path_problem(std::string("Imported/") + name, true, false), "") << name;
    }
    EXPECT_EQ(path_problem("Imported/welcome.html", true, true), "");
}

TEST(Changeset, RefusesUnknownVersionsWithAdvice) {
    TempDir dir;
    std::string text = encode_header(write_list(dir / "ops", sample_ops()));
    auto pos = text.find("\"version\":2");
    ASSERT_NE(pos, std::string::npos);
    std::string v1 = text, v3 = text;
    v1.replace(pos, 11, "\"version\":1");
    v3.replace(pos, 11, "\"version\":3");
    EXPECT_NE(refusal_of([&] { decode_header(v1, "x.tar.zst"); }).find("pack it again with this one"),
              std::string::npos);
    EXPECT_NE(refusal_of([&] { decode_header(v3, "x.tar.zst"); }).find("same exmsync version"), std::string::npos);
    EXPECT_THROW(decode_header("not json", "x"), Error);
    EXPECT_THROW(decode_header("{\"format\":\"something-else\"}", "x"), Error);
}

TEST(Changeset, ConfigFilesAreRecognised) {
    EXPECT_TRUE(is_config_path("App_Config/Include/Sitecore.EXM.config"));
    EXPECT_TRUE(is_config_path("Web.CONFIG"));
    EXPECT_FALSE(is_config_path("a.config.disabled"));
    EXPECT_FALSE(is_config_path("template.html"));
}
