// Deterministic test trees: a template tree made from a seed, and a mutation
// of it with every kind of change a push must carry (modify, add, delete,
// rename, new and removed folders, new folders moved into place whole and
// made one by one, type changes, config files).
#pragma once

#include <boost/filesystem.hpp>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "support/temp_tree.hpp"

namespace exmsync::testing {

class TreeMaker {
public:
    explicit TreeMaker(std::uint64_t seed) : rng_(seed) {}

    std::uint64_t below(std::uint64_t n) { return rng_() % n; }

    std::string content(std::size_t min_size = 10, std::size_t spread = 3000) {
        std::string s(min_size + below(spread), ' ');
        for (char& c : s) c = static_cast<char>('a' + below(26));
        return s;
    }

    // folders d0..d4, each with `per_folder` html files and one nested folder.
    void make(const fs::path& root, int per_folder = 8) {
        for (int d = 0; d < 5; ++d) {
            for (int f = 0; f < per_folder; ++f)
                write_file(root / ("d" + std::to_string(d)) / ("t" + std::to_string(f) + ".html"), content());
            write_file(root / ("d" + std::to_string(d)) / "sub" / "img.png", content(100, 5000));
        }
        write_file(root / "App_Config/Sitecore.EXM.config", "<configuration>" + content() + "</configuration>");
        write_file(root / "gone/x.html", content());
        write_file(root / "gone/deeper/y.html", content());
        write_file(root / "becomes-folder", content());
        write_file(root / "becomes-file/z.html", content());
    }

    // Every kind of change, in amounts that give a changeset of 50+ operations.
    void mutate(const fs::path& root) {
        std::vector<fs::path> files;
        for (fs::recursive_directory_iterator it(root), end; it != end; ++it)
            if (fs::is_regular_file(it->path()) && it->path().extension() == ".html") files.push_back(it->path());
        std::sort(files.begin(), files.end());
        std::size_t i = 0;
        for (int n = 0; n < 12 && i < files.size(); ++n, ++i)
            if (fs::exists(files[i])) write_file(files[i], content());  // modified
        for (int n = 0; n < 8 && i < files.size(); ++n, ++i)
            if (fs::exists(files[i])) fs::remove(files[i]);  // deleted
        for (int n = 0; n < 8 && i < files.size(); ++n, ++i)
            if (fs::exists(files[i])) fs::rename(files[i], files[i].parent_path() / ("moved-" + std::to_string(n) + ".html"));
        for (int n = 0; n < 12; ++n) write_file(root / "new" / ("n" + std::to_string(n) + ".html"), content());
        // New folders the commit makes one by one: one holding a config
        // file, one a file renamed into it ("new" above moves whole).
        write_file(root / "App_Config/Include/New/Sitecore.New.config", "<configuration>" + content() + "</configuration>");
        fs::create_directories(root / "new-empty" / "inner");  // moves whole, empty
        if (i < files.size() && fs::exists(files[i])) {
            fs::create_directories(root / "moved-into");
            fs::rename(files[i++], root / "moved-into" / "m.html");
        }
        write_file(root / "App_Config/Sitecore.EXM.config", "<configuration>" + content() + "</configuration>");
        fs::remove_all(root / "gone");
        fs::remove(root / "becomes-folder");
        write_file(root / "becomes-folder/inside.html", content());
        fs::remove_all(root / "becomes-file");
        write_file(root / "becomes-file", content());
    }

private:
    std::mt19937_64 rng_;
};

// Copies a folder, state folder included, with its file times.
inline void copy_tree(const fs::path& from, const fs::path& to) {
    fs::create_directories(to);
    for (fs::recursive_directory_iterator it(from), end; it != end; ++it) {
        fs::path dest = to / fs::relative(it->path(), from);
        if (fs::is_symlink(it->symlink_status())) fs::copy_symlink(it->path(), dest);
        else if (fs::is_directory(it->status())) fs::create_directories(dest);
        else fs::copy_file(it->path(), dest, fs::copy_option::overwrite_if_exists);
        if (!fs::is_symlink(it->symlink_status())) fs::last_write_time(dest, fs::last_write_time(it->path()));
    }
}

}  // namespace exmsync::testing
