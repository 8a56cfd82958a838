#include "manifest/tree.hpp"

namespace exmsync::manifest {
namespace {

class LocalTree final : public Tree {
public:
    explicit LocalTree(boost::filesystem::path root) : root_(std::move(root)) {}

    std::string describe() const override { return root_.string(); }
    std::optional<FileStat> stat(const std::string& path) override { return stat_if_exists(full(path)); }
    std::vector<DirChild> list(const std::string& dir) override { return list_directory(full(dir)); }
    std::optional<HashedFile> hash(const std::string& path, const FileStat& before) override {
        return hash_file(full(path), before);
    }
    std::string read_symlink(const std::string& path) override { return manifest::read_symlink(full(path)); }

private:
    boost::filesystem::path full(const std::string& path) const { return path.empty() ? root_ : root_ / path; }
    boost::filesystem::path root_;
};

}  // namespace

std::unique_ptr<Tree> local_tree(const boost::filesystem::path& root) { return std::make_unique<LocalTree>(root); }

}  // namespace exmsync::manifest
