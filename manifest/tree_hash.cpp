#include "manifest/tree_hash.hpp"

#include <xxhash.h>

namespace exmsync::manifest {

struct TreeHasher::Frame {
    std::string path;
    std::uint64_t size = 0;
    XXH3_state_t* state = XXH3_createState();
    explicit Frame(std::string p) : path(std::move(p)) { XXH3_128bits_reset(state); }
    ~Frame() { XXH3_freeState(state); }
};

namespace {

void put_u64(unsigned char* out, std::uint64_t v, bool big_endian) {
    for (int i = 0; i < 8; ++i) out[big_endian ? 7 - i : i] = static_cast<unsigned char>(v >> (8 * i));
}

void add_child(XXH3_state_t* state, std::string_view name, EntryType type, std::uint64_t size,
               const Hash128& hash) {
    unsigned char record[2 + 8 + 16];
    record[0] = 0;  // ends the name: names never hold NUL
    record[1] = static_cast<unsigned char>(type);
    put_u64(record + 2, size, false);
    put_u64(record + 10, hash.high, true);
    put_u64(record + 18, hash.low, true);
    XXH3_128bits_update(state, name.data(), name.size());
    XXH3_128bits_update(state, record, sizeof record);
}

}  // namespace

TreeHasher::TreeHasher(DirectoryDone on_directory_done) : on_directory_done_(std::move(on_directory_done)) {
    stack_.push_back(new Frame(""));
}

TreeHasher::~TreeHasher() {
    for (auto* f : stack_) delete f;
}

void TreeHasher::close_top() {
    Frame* done = stack_.back();
    stack_.pop_back();
    XXH128_hash_t h = XXH3_128bits_digest(done->state);
    Hash128 hash{h.high64, h.low64};
    add_child(stack_.back()->state, name_of(done->path), EntryType::Directory, 0, hash);
    if (on_directory_done_) on_directory_done_(done->path, hash);
    delete done;
}

void TreeHasher::close_until(std::string_view path) {
    while (stack_.size() > 1 && !is_inside(path, stack_.back()->path)) close_top();
}

bool TreeHasher::add(const Entry& entry) {
    close_until(entry.path);
    if (parent_of(entry.path) != stack_.back()->path) return false;
    if (entry.type == EntryType::Directory) {
        stack_.push_back(new Frame(entry.path));
    } else {
        add_child(stack_.back()->state, name_of(entry.path), entry.type, entry.size, entry.hash);
    }
    return true;
}

Hash128 TreeHasher::finish() {
    while (stack_.size() > 1) close_top();
    XXH128_hash_t h = XXH3_128bits_digest(stack_.back()->state);
    XXH3_128bits_reset(stack_.back()->state);
    return Hash128{h.high64, h.low64};
}

Hash128 empty_folder_hash() { return TreeHasher().finish(); }

}  // namespace exmsync::manifest
