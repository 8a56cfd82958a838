// Test support for changeset archives: an in-memory content feed, a sample
// changeset, and writers for hostile archives, built directly with libarchive
// (or by hand where libarchive refuses to write something that bad).
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "manifest/file_system.hpp"
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

struct Sample {
    Changeset changeset;
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
    Sample s;
    s.changeset.base_root = manifest::hash_bytes("base");
    s.changeset.new_root = manifest::hash_bytes("new");
    Op mkdir;
    mkdir.kind = OpKind::Mkdir;
    mkdir.path = "Imported";
    s.changeset.ops.push_back(mkdir);
    for (const auto& [path, content] : files) {
        s.changeset.ops.push_back(write_op(path, content));
        s.feed.push_back({kFilePrefix + path, content, content.size()});
    }
    Op del;
    del.kind = OpKind::Delete;
    del.path = "old.html";
    del.base = file_expect("old");
    s.changeset.ops.push_back(del);
    Op rename = write_op("moved.html", "moved");
    rename.kind = OpKind::Rename;
    rename.from = "was.html";
    rename.base = file_expect("moved");
    s.changeset.ops.push_back(rename);
    std::string manifest = "exmsync-manifest 1\n...the manifest after apply...\n";
    s.feed.push_back({kManifestItem, manifest, manifest.size()});
    return s;
}

// A changeset with one written file "a.html" holding "hello".
inline Changeset one_file_changeset() {
    Changeset c;
    c.ops.push_back(write_op("a.html", "hello"));
    return c;
}

inline std::string write_sample(const TempDir& dir, const std::string& name) {
    Sample s = sample();
    MemoryFeed feed(s.feed);
    std::string file = (dir / name).string();
    write_archive(file, s.changeset, feed);
    return file;
}

// ---- hostile archives, written with libarchive directly ---------------------

struct RawEntry {
    RawEntry(std::string name, std::string content, mode_t type = AE_IFREG)
        : name(std::move(name)), content(std::move(content)), type(type) {}
    std::string name;
    std::string content;
    mode_t type = AE_IFREG;
    std::string hardlink;  // set: a hard link to this name
    std::string symlink;   // set: the link's target
    std::string xattr;     // set: stored in the entry's pax header
};

inline RawEntry link_entry(std::string name, std::string hardlink, std::string symlink) {
    RawEntry e(std::move(name), "", symlink.empty() ? AE_IFREG : AE_IFLNK);
    e.hardlink = std::move(hardlink);
    e.symlink = std::move(symlink);
    return e;
}

inline RawEntry metadata_entry(const Changeset& c) { return {kArchiveMetadata, encode(c)}; }
inline RawEntry manifest_entry() { return {kArchiveManifest, "manifest"}; }

// Writes `entries` as they are, through any libarchive format and filter.
inline void write_raw(const std::string& file, const std::vector<RawEntry>& entries,
               int (*format)(archive*) = archive_write_set_format_pax_restricted,
               int (*filter)(archive*) = archive_write_add_filter_zstd) {
    archive* a = archive_write_new();
    ASSERT_EQ(format(a), ARCHIVE_OK);
    ASSERT_EQ(filter(a), ARCHIVE_OK);
    archive_write_set_format_option(a, "pax", "hdrcharset", "BINARY");
    ASSERT_EQ(archive_write_open_filename(a, file.c_str()), ARCHIVE_OK);
    for (const auto& raw : entries) {
        archive_entry* e = archive_entry_new();
        archive_entry_set_pathname(e, raw.name.c_str());
        archive_entry_set_filetype(e, raw.type);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, static_cast<la_int64_t>(raw.content.size()));
        if (!raw.hardlink.empty()) archive_entry_set_hardlink(e, raw.hardlink.c_str());
        if (!raw.symlink.empty()) archive_entry_set_symlink(e, raw.symlink.c_str());
        if (!raw.xattr.empty()) archive_entry_xattr_add_entry(e, "user.padding", raw.xattr.data(), raw.xattr.size());
        ASSERT_EQ(archive_write_header(a, e), ARCHIVE_OK) << raw.name << ": " << archive_error_string(a);
        if (!raw.content.empty()) archive_write_data(a, raw.content.data(), raw.content.size());
        archive_entry_free(e);
    }
    ASSERT_EQ(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
}

// ---- hand-made archives, for headers libarchive would have to back with data

inline la_ssize_t append_to_string(archive*, void* out, const void* data, size_t size) {
    static_cast<std::string*>(out)->append(static_cast<const char*>(data), size);
    return static_cast<la_ssize_t>(size);
}

// `bytes` as one zstd frame (libarchive's raw format adds no header).
inline std::string zstd_frame(const std::string& bytes) {
    std::string out;
    archive* a = archive_write_new();
    archive_write_set_format_raw(a);
    archive_write_add_filter_zstd(a);
    archive_write_set_bytes_in_last_block(a, 1);
    archive_write_open2(a, &out, nullptr, append_to_string, nullptr,
                        nullptr);
    archive_entry* e = archive_entry_new();
    archive_entry_set_filetype(e, AE_IFREG);
    archive_write_header(a, e);
    archive_write_data(a, bytes.data(), bytes.size());
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);
    return out;
}

// A ustar header for a regular file claiming `size` bytes.
inline std::string ustar_header(const std::string& name, std::uint64_t size) {
    std::string h(512, '\0');
    auto put = [&](std::size_t at, const std::string& text) { h.replace(at, text.size(), text); };
    char octal[32];
    put(0, name);
    put(100, "0000644");
    put(108, "0000000");
    put(116, "0000000");
    std::snprintf(octal, sizeof octal, "%011llo", static_cast<unsigned long long>(size));
    put(124, octal);
    put(136, "00000000000");
    put(156, "0");
    put(257, std::string("ustar\0" "00", 8));
    put(148, "        ");
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    std::snprintf(octal, sizeof octal, "%06o", sum);
    put(148, std::string(octal, 7));  // six digits, NUL, and the space stays
    return h;
}

inline std::string padded(std::string data) { return data.append((512 - data.size() % 512) % 512, '\0'); }

// The metadata entry, then an entry whose header claims `claimed` bytes backed
// by `zero_mib` MiB of zeros in repeated zstd frames: a tiny file that would
// decompress to `claimed` bytes.
// With no changeset, the claiming entry comes first.
inline void write_bomb(const std::string& file, const Changeset* c, const std::string& name, std::uint64_t claimed,
                int zero_mib) {
    std::string head;
    if (c) head = ustar_header(kArchiveMetadata, encode(*c).size()) + padded(encode(*c));
    std::string out = zstd_frame(head + ustar_header(name, claimed));
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
