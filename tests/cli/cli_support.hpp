// Shared helpers for the CLI end-to-end tests: running the built binary,
// reading a target's state, starting child processes, and reading and writing
// changeset archives with libarchive directly (to make hostile ones).
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "manifest/file_system.hpp"
#include "support/random_tree.hpp"
#include "support/raw_archive.hpp"
#include "support/temp_tree.hpp"

extern char** environ;

namespace exmsync::testing::cli {

inline const std::string kExmsync = EXMSYNC_BINARY;

inline CommandResult cli_run(const std::string& args) { return run(shell_quote(kExmsync) + " " + args); }

inline std::string q(const fs::path& p) { return shell_quote(p.string()); }

// `rsync -rcn --delete` between two trees, the state folder left out: empty
// when they hold the same files with the same content.
inline std::string rsync_differences(const fs::path& a, const fs::path& b) {
    auto r = run("rsync -rcn --delete --exclude=.exmsync --out-format='%n' " + q(a.string() + "/") + " " +
                 q(b.string() + "/"));
    if (r.exit_code != 0) return "rsync failed: " + r.err;
    return r.out;
}

inline int count_lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

// The "root\t<hash>" line of a manifest's text.
inline std::string root_of(const std::string& manifest_text) {
    auto at = manifest_text.find("\nroot\t");
    if (at == std::string::npos) return "no root line in: " + manifest_text.substr(0, 200);
    auto end = manifest_text.find('\n', at + 1);
    return manifest_text.substr(at + 6, end - at - 6);
}

// `exmsync manifest DIR` (the state folder is never part of it); fails the test on error.
inline std::string manifest_of(const fs::path& dir) {
    auto r = cli_run("manifest --no-cache " + q(dir));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
}

inline std::string host_name() {
    char name[256] = {};
    ::gethostname(name, sizeof name - 1);
    return name;
}

// What an apply must never leave behind in a target's state folder: a lock,
// a lock draft, a journal (or its draft), or anything in staging. Empty: clean.
inline std::string leftovers(const fs::path& target) {
    fs::path state = target / ".exmsync";
    std::string found;
    if (!fs::exists(state)) return found;
    for (fs::directory_iterator it(state), end; it != end; ++it) {
        std::string name = it->path().filename().string();
        if (name == "lock" || name.rfind("lock.", 0) == 0 || name == "journal" || name.rfind("journal.", 0) == 0)
            found += " " + name;
    }
    if (fs::exists(state / "staging"))
        for (fs::directory_iterator it(state / "staging"), end; it != end; ++it)
            found += " staging/" + it->path().filename().string();
    return found;
}

// Every file and folder outside any state folder, with type, size and mtime
// (nanoseconds): a change a manifest cannot see (a touched mtime) shows here.
inline std::map<std::string, std::string> tree_state(const fs::path& root) {
    std::map<std::string, std::string> out;
    for (fs::recursive_directory_iterator it(root), end; it != end; ++it) {
        std::string rel = fs::relative(it->path(), root).generic_string();
        if (it->path().filename() == ".exmsync") {
            it.disable_recursion_pending();
            continue;
        }
        struct stat st {};
        ::lstat(it->path().c_str(), &st);
        std::string v = std::to_string(st.st_mode) + " " + std::to_string(st.st_size) + " " +
                        std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
        if (S_ISLNK(st.st_mode)) v += " -> " + fs::read_symlink(it->path()).string();
        out[rel] = v;
        if (S_ISLNK(st.st_mode)) it.disable_recursion_pending();
    }
    return out;
}

// ---- child processes ---------------------------------------------------------

// Starts `argv` with stdout and stderr going to the given files (or /dev/null).
inline pid_t spawn(const std::vector<std::string>& argv, const std::string& out = "/dev/null",
                   const std::string& err = "/dev/null") {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    return rc == 0 ? pid : -1;
}

// waitpid; the exit code, or 128 + the signal that ended it.
inline int wait_for(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// ---- archives, read and written with libarchive directly ---------------------

// A changeset archive taken apart: the header as JSON with the operations
// under "ops" (one array), the file entries, and the manifest entry, to be
// changed and written back. Writing it back recomputes the header's counts
// and operations hash, so that a test's edit reaches the check it aims at
// (unless `keep_header` is set, to test that very check).
struct Unpacked {
    nlohmann::json meta;
    std::vector<RawEntry> files;
    std::string manifest;
    bool keep_header = false;

    static Unpacked load(const fs::path& file) {
        Unpacked c;
        auto entries = read_entries(file);
        EXPECT_GE(entries.size(), 3u);
        if (entries.size() < 3) return c;
        EXPECT_EQ(entries[0].name, "exmsync/changeset.json");
        EXPECT_EQ(entries[1].name, "exmsync/ops");
        EXPECT_EQ(entries.back().name, "exmsync/manifest");
        c.meta = nlohmann::json::parse(entries[0].content);
        c.meta["ops"] = nlohmann::json::array();
        std::string ops = entries[1].content;
        for (std::size_t start = 0; start < ops.size();) {
            auto end = ops.find('\n', start);
            c.meta["ops"].push_back(nlohmann::json::parse(ops.substr(start, end - start)));
            start = end + 1;
        }
        c.manifest = entries.back().content;
        c.files.assign(entries.begin() + 2, entries.end() - 1);
        return c;
    }

    std::string ops_text() const {
        std::string text;
        for (const auto& op : meta["ops"]) text += op.dump() + "\n";
        return text;
    }

    nlohmann::json header() const {
        nlohmann::json h = meta;
        h.erase("ops");
        if (keep_header) return h;
        nlohmann::json counts = {{"writes", 0}, {"deletes", 0}, {"renames", 0}, {"mkdirs", 0}, {"rmdirs", 0}, {"bytes", 0}};
        for (const auto& op : meta["ops"]) {
            std::string kind = op.value("op", "");
            if (kind == "write") {
                counts["writes"] = counts["writes"].get<std::uint64_t>() + 1;
                counts["bytes"] = counts["bytes"].get<std::uint64_t>() + op.value("size", std::uint64_t{0});
            } else if (kind == "delete" || kind == "rename" || kind == "mkdir" || kind == "rmdir") {
                std::string key = kind == "delete" ? "deletes" : kind + "s";
                counts[key] = counts[key].get<std::uint64_t>() + 1;
            }
        }
        h["counts"] = counts;
        h["ops_hash"] = manifest::hash_bytes(ops_text()).hex();
        return h;
    }

    std::vector<RawEntry> entries() const {
        std::vector<RawEntry> all{{"exmsync/changeset.json", header().dump()}, {"exmsync/ops", ops_text()}};
        all.insert(all.end(), files.begin(), files.end());
        all.emplace_back("exmsync/manifest", manifest);
        return all;
    }

    void save(const fs::path& file) const { write_raw(file.string(), entries()); }

    // Puts the operations back in list order (by path, '/' before any other
    // byte; a removal before a creation at one path) after a test added some.
    void sort_ops() {
        auto key = [](const nlohmann::json& op) {
            std::string path = op["path"].get<std::string>();
            for (char& ch : path)
                if (ch == '/') ch = '\x01';
            std::string kind = op["op"];
            return std::pair(path, kind == "delete" || kind == "rmdir" ? 0 : 1);
        };
        std::vector<nlohmann::json> ops(meta["ops"].begin(), meta["ops"].end());
        std::stable_sort(ops.begin(), ops.end(), [&](const auto& a, const auto& b) { return key(a) < key(b); });
        meta["ops"] = ops;
    }

    // The index of the first op of `kind` ("write", "delete", ...).
    std::size_t first(const std::string& kind) const {
        for (std::size_t i = 0; i < meta["ops"].size(); ++i)
            if (meta["ops"][i]["op"] == kind) return i;
        ADD_FAILURE() << "no " << kind << " op in " << meta.dump();
        return 0;
    }
    // The file entry of write op `path`.
    RawEntry& entry(const std::string& path) {
        for (auto& e : files)
            if (e.name == "files/" + path) return e;
        ADD_FAILURE() << "no entry for " << path;
        return files.front();
    }
};

}  // namespace exmsync::testing::cli
