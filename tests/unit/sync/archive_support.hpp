// Test support for changeset archives: an in-memory content feed, a sample
// changeset, and writers for hostile archives, built directly with libarchive
// (or by hand where libarchive refuses to write something that bad).
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "manifest/file_system.hpp"
#include "manifest/sorted_file.hpp"
#include "support/raw_archive.hpp"
#include "support/temp_tree.hpp"
#include "sync/archive.hpp"
#include "sync/error.hpp"

namespace exmsync::testing::archives {

using namespace exmsync::sync;


// ---- an in-memory content feed ---------------------------------------------

class StringReader : public transport::Reader {
public:
    explicit StringReader(std::string bytes) : bytes_(std::move(bytes)) {}
    std::size_t read(char* buffer, std::size_t size) override {
        std::size_t n = std::min(size, bytes_.size() - at_);
        std::memcpy(buffer, bytes_.data() + at_, n);
        at_ += n;
        return n;
    }

private:
    std::string bytes_;
    std::size_t at_ = 0;
};

struct Item {
    std::string name;
    std::string bytes;
    std::uint64_t size = 0;  // the size the feed claims
};

class MemoryFeed : public ContentFeed {
public:
    explicit MemoryFeed(std::vector<Item> items) : items_(std::move(items)) {}
    void each(const Take& take) override {
        for (const auto& item : items_) {
            StringReader reader(item.bytes);
            take(item.name, item.size, reader);
        }
    }

private:
    std::vector<Item> items_;
};

// Every item a feed hands over, with the bytes its Reader yields, read in
// `chunk`-byte pieces. Stops with an exception past 64 MiB, so a reader that
// let a bomb through fails the test instead of filling the memory.
inline std::vector<Item> collect(ContentFeed& feed, std::size_t chunk = 7) {
    std::vector<Item> items;
    feed.each([&](const std::string& name, std::uint64_t size, transport::Reader& reader) {
        Item item{name, {}, size};
        std::vector<char> buffer(chunk);
        while (std::size_t n = reader.read(buffer.data(), buffer.size())) {
            item.bytes.append(buffer.data(), n);
            if (item.bytes.size() > (64u << 20)) throw std::runtime_error("more than 64 MiB in " + name);
        }
        items.push_back(std::move(item));
    });
    return items;
}

// ---- a changeset and its content -------------------------------------------

inline Op write_op(const std::string& path, const std::string& content) {
    Op op;
    op.kind = OpKind::Write;
    op.path = path;
    op.size = content.size();
    op.hash = manifest::hash_bytes(content);
    op.mtime_ns = 1'600'000'000'123'456'789;
    return op;
}

inline Expect file_expect(const std::string& content) {
    return Expect{manifest::EntryType::File, content.size(), manifest::hash_bytes(content)};
}

// A changeset for tests: its operations in memory and in their list file.
struct TestChangeset {
    ChangesetHeader header;
    std::vector<Op> ops;
    std::shared_ptr<manifest::TempFile> file = std::make_shared<manifest::TempFile>();

    Changeset changeset() const { return {header, file->path()}; }
    std::string ops_text() const { return read_file(file->path()); }
};

// Sorts `ops` into list order (by path, a removal before a creation at the
// same path) and writes them; the roots are the tests' own.
inline TestChangeset make_changeset(std::vector<Op> ops, bool portable = true) {
    std::stable_sort(ops.begin(), ops.end(), [](const Op& a, const Op& b) {
        int order = manifest::compare_paths(a.path, b.path);
        if (order != 0) return order < 0;
        return !a.creates() && b.creates();
    });
    TestChangeset c;
    c.ops = ops;
    OpListWriter writer(c.file->path(), portable);
    for (const auto& op : ops) writer.add(op);
    writer.finish(c.header);
    c.header.base_root = manifest::hash_bytes("base");
    c.header.new_root = manifest::hash_bytes("new");
    return c;
}

struct Sample {
    TestChangeset changeset;
    std::vector<Item> feed;  // files in op order, then the manifest
};

inline std::string random_bytes(std::size_t size, unsigned seed) {
    std::mt19937 rng(seed);
    std::string bytes(size, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    return bytes;
}

// Mkdir, writes (a non-ASCII name, a non-UTF-8 name, a path past ustar's 100
// bytes, an empty file, a large incompressible one), a delete and a rename.
inline Sample sample() {
    std::vector<std::pair<std::string, std::string>> files = {
        {"Imported/a.html", "<html>a</html>"},
        {"Imported/caf\xc3\xa9.html", "<p>caf\xc3\xa9</p>"},
        {"Imported/odd\xff\xfe.bin", std::string("\0\1\2", 3)},
        {"Imported/" + std::string(150, 'x') + "/deep.html", "deep"},
        {"Imported/empty.txt", ""},
        {"Imported/big.png", random_bytes(300 * 1024, 7)},
    };
    std::vector<Op> ops;
    Op mkdir;
    mkdir.kind = OpKind::Mkdir;
    mkdir.path = "Imported";
    ops.push_back(mkdir);
    for (const auto& [path, content] : files) ops.push_back(write_op(path, content));
    Op del;
    del.kind = OpKind::Delete;
    del.path = "old.html";
    del.base = file_expect("old");
    ops.push_back(del);
    Op rename = write_op("moved.html", "moved");
    rename.kind = OpKind::Rename;
    rename.from = "was.html";
    rename.base = file_expect("moved");
    ops.push_back(rename);
    Sample s;
    s.changeset = make_changeset(ops);
    for (const auto& op : s.changeset.ops) {
        if (op.kind != OpKind::Write) continue;
        for (const auto& [path, content] : files)
            if (path == op.path) s.feed.push_back({kFilePrefix + path, content, content.size()});
    }
    std::string manifest = "exmsync-manifest 1\n...the manifest after apply...\n";
    s.feed.push_back({kManifestItem, manifest, manifest.size()});
    return s;
}

// A changeset with one written file "a.html" holding "hello".
inline TestChangeset one_file_changeset() { return make_changeset({write_op("a.html", "hello")}); }

inline std::string write_sample(const TempDir& dir, const std::string& name) {
    Sample s = sample();
    MemoryFeed feed(s.feed);
    std::string file = (dir / name).string();
    write_archive(file, s.changeset.changeset(), feed);
    return file;
}

// ---- hostile archives, written with libarchive directly ---------------------

inline RawEntry metadata_entry(const TestChangeset& c) { return {kArchiveMetadata, encode_header(c.header)}; }
inline RawEntry ops_entry(const TestChangeset& c) { return {kArchiveOps, c.ops_text()}; }
inline RawEntry manifest_entry() { return {kArchiveManifest, "manifest"}; }
// The two entries every archive starts with.
inline std::vector<RawEntry> head(const TestChangeset& c, std::vector<RawEntry> rest) {
    std::vector<RawEntry> all{metadata_entry(c), ops_entry(c)};
    all.insert(all.end(), rest.begin(), rest.end());
    return all;
}

// ---- hand-made archives, for headers libarchive would have to back with data

// The metadata and operation entries, then an entry whose header claims
// `claimed` bytes backed by `zero_mib` MiB of zeros in repeated zstd frames: a
// tiny file that would decompress to `claimed` bytes.
// With no changeset, the claiming entry comes first.
inline void write_bomb(const std::string& file, const TestChangeset* c, const std::string& name,
                       std::uint64_t claimed, int zero_mib) {
    std::string start;
    if (c) {
        std::string meta = encode_header(c->header), ops = c->ops_text();
        start = ustar_header(kArchiveMetadata, meta.size()) + padded(meta) + ustar_header(kArchiveOps, ops.size()) +
                padded(ops);
    }
    std::string out = zstd_frame(start + ustar_header(name, claimed));
    std::string mib = zstd_frame(std::string(1 << 20, '\0'));
    for (int i = 0; i < zero_mib; ++i) out += mib;
    write_file(file, out);
}

// The message of the sync::Error that reading (and streaming) `file` throws.
inline std::string refusal(const std::string& file) {
    try {
        ArchiveReader reader(file);
        collect(reader, 64 * 1024);
    } catch (const Error& e) {
        return e.what();
    } catch (const std::exception& e) {
        return std::string("not a sync::Error: ") + e.what();
    }
    return "accepted";
}

inline void expect_refused(const std::string& file, const std::vector<std::string>& parts) {
    std::string why = refusal(file);
    for (const auto& part : parts) EXPECT_NE(why.find(part), std::string::npos) << "expected '" << part << "' in: " << why;
    EXPECT_EQ(why.find('\n'), std::string::npos) << "not one line: " << why;
}

}  // namespace exmsync::testing::archives

// SCOPED_TRACE: a failure names the test's line, not the helper's.
#define EXPECT_REFUSED(file, ...)              \
    do {                                       \
        SCOPED_TRACE("archive refusal");       \
        expect_refused(file, {__VA_ARGS__});   \
    } while (0)
