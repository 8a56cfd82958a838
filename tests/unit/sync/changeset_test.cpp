#include <gtest/gtest.h>

#include "manifest/file_system.hpp"
#include "sync/changeset.hpp"
#include "sync/error.hpp"

using namespace exmsync;
using namespace exmsync::sync;

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

Changeset sample() {
    Changeset c;
    c.base_root = manifest::hash_bytes("base");
    c.new_root = manifest::hash_bytes("new");
    Op mkdir;
    mkdir.kind = OpKind::Mkdir;
    mkdir.path = "new folder";
    Op del;
    del.kind = OpKind::Delete;
    del.path = "old\tname\xff.html";
    del.base = file_base();
    Op ren;
    ren.kind = OpKind::Rename;
    ren.from = "a.png";
    ren.path = "new folder/a.png";
    ren.size = 3;
    ren.hash = file_base().hash;
    ren.base = file_base();
    Op rmdir;
    rmdir.kind = OpKind::Rmdir;
    rmdir.path = "empty";
    rmdir.base = Expect{manifest::EntryType::Directory, 0, {}};
    c.ops = {mkdir, write("new folder/x.html"), write("m.config", file_base()), del, ren, rmdir};
    return c;
}

}  // namespace

TEST(Changeset, EncodeDecodeEncodeIsByteIdentical) {
    auto c = sample();
    std::string once = encode(c);
    Changeset back = decode(once, "test");
    EXPECT_EQ(back, c);
    EXPECT_EQ(encode(back), once);
    EXPECT_EQ(back.id(), c.id());
    EXPECT_EQ(c.id().size(), 16u);
}

TEST(Changeset, IdChangesWithContent) {
    auto a = sample(), b = sample();
    b.ops[1].mtime_ns += 1;
    EXPECT_NE(a.id(), b.id());
}

TEST(Changeset, RefusesUnsafeOrContradictoryOperations) {
    auto refused = [](auto edit) {
        auto c = sample();
        edit(c);
        EXPECT_THROW(decode(encode(c), "test"), Error);
    };
    refused([](Changeset& c) { c.ops[1].path = "../escape.html"; });
    refused([](Changeset& c) { c.ops[1].path = "/etc/passwd"; });
    refused([](Changeset& c) { c.ops[4].from = "a/./b"; });
    refused([](Changeset& c) { c.ops.push_back(write("new folder/x.html")); });  // written twice
    refused([](Changeset& c) { c.ops[4].from = c.ops[4].path; });
    refused([](Changeset& c) { c.ops[3].base.reset(); });                        // delete without base
    refused([](Changeset& c) { c.ops.push_back(c.ops[3]); });                    // removed twice
}

TEST(Changeset, RefusesUnknownVersionAndJunk) {
    std::string text = encode(sample());
    auto pos = text.find("\"version\":1");
    ASSERT_NE(pos, std::string::npos);
    std::string v2 = text;
    v2.replace(pos, 11, "\"version\":2");
    try {
        decode(v2, "x.tar.zst");
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("version 2"), std::string::npos) << e.what();
    }
    EXPECT_THROW(decode("not json", "x"), Error);
    EXPECT_THROW(decode("{\"format\":\"something-else\"}", "x"), Error);
}

TEST(Changeset, ConfigFilesAreRecognised) {
    EXPECT_TRUE(is_config_path("App_Config/Include/Sitecore.EXM.config"));
    EXPECT_TRUE(is_config_path("Web.CONFIG"));
    EXPECT_FALSE(is_config_path("a.config.disabled"));
    EXPECT_FALSE(is_config_path("template.html"));
}
