// Archives written and read with libarchive directly, byte by byte as a test
// wants them: for hostile changesets that exmsync's own writer would never make.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/types.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "support/temp_tree.hpp"

namespace exmsync::testing {

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

// libarchive's narrow and wide opens, for fs::path::c_str() on either system.
inline int open_read(archive* a, const char* name) { return archive_read_open_filename(a, name, 65536); }
inline int open_read(archive* a, const wchar_t* name) { return archive_read_open_filename_w(a, name, 65536); }
inline int open_write(archive* a, const char* name) { return archive_write_open_filename(a, name); }
inline int open_write(archive* a, const wchar_t* name) { return archive_write_open_filename_w(a, name); }

// Every entry of a zstd tar, in order.
inline std::vector<RawEntry> read_entries(const fs::path& file) {
    std::vector<RawEntry> out;
    archive* a = archive_read_new();
    archive_read_support_filter_zstd(a);
    archive_read_support_format_tar(a);
    EXPECT_EQ(open_read(a, file.c_str()), ARCHIVE_OK) << archive_error_string(a);
    archive_entry* e = nullptr;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        RawEntry raw(archive_entry_pathname(e), "", archive_entry_filetype(e));
        char buffer[65536];
        la_ssize_t n;
        while ((n = archive_read_data(a, buffer, sizeof buffer)) > 0) raw.content.append(buffer, static_cast<size_t>(n));
        out.push_back(std::move(raw));
    }
    archive_read_free(a);
    return out;
}

// Writes `entries` as they are, through any libarchive format and filter.
inline void write_raw(const std::string& file, const std::vector<RawEntry>& entries,
               int (*format)(archive*) = archive_write_set_format_pax_restricted,
               int (*filter)(archive*) = archive_write_add_filter_zstd) {
    archive* a = archive_write_new();
    ASSERT_EQ(format(a), ARCHIVE_OK);
    ASSERT_EQ(filter(a), ARCHIVE_OK);
    archive_write_set_format_option(a, "pax", "hdrcharset", "BINARY");
    ASSERT_EQ(open_write(a, fs::path(file).c_str()), ARCHIVE_OK);
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

}  // namespace exmsync::testing
