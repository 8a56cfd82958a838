#include "sync/stager.hpp"

#include <fstream>
#include <vector>

#include "manifest/escape.hpp"
#include "manifest/file_system.hpp"
#include "manifest/format.hpp"
#include "sync/error.hpp"
#include "sync/journal.hpp"
#include "sync/touches.hpp"
#include "platform/files.hpp"

namespace exmsync::sync {
namespace {

using manifest::Entry;
using manifest::EntryType;

constexpr std::size_t kCopyBuffer = 64 * 1024;

std::string show(const std::string& path) { return "'" + manifest::escape_path(path) + "'"; }

class Stager {
public:
    Stager(StateFolder& state, const StageInput& input) : state_(state), input_(input), writes_(input.touches) {}

    void take(const std::string& name, std::uint64_t size, transport::Reader& content) {
        if (name == kManifestItem) return take_manifest(content);
        if (manifest_seen_) fail("content for " + show(name) + " after the manifest");
        if (name.rfind(kFilePrefix, 0) != 0) fail("an item " + show(name) + " that is neither a file nor the manifest");
        std::string path = name.substr(std::string(kFilePrefix).size());
        Touch t;
        if (!next_write(t)) fail("content for " + show(path) + ", which the changeset does not write");
        if (t.path != path) fail("content for " + show(path) + " where the content for " + show(t.path) + " was due");
        if (size != t.size) fail("content for " + show(path) + " of the wrong size");
        std::string staged;
        if (t.tree) {
            staged = staged_in_tree(input_.apply_id, t.tree, t.tree_root, t.path);  // its folder is made
        } else {
            auto folder = staged_folder(input_.apply_id, t.staged);
            if (folder != last_folder_) {
                state_.make_folders(folder);
                last_folder_ = folder;
            }
            staged = staged_file(input_.apply_id, t.staged);
        }
        auto writer = state_.transport().create_staged(staged);
        writer->set_mtime_on_commit(t.mtime_ns);
        auto [bytes, hash] = copy(content, writer.get(), t.size, path);
        writer->commit(transport::Flush::Deferred);
        if (bytes != t.size || hash != t.hash)
            fail("content for " + show(path) + " does not match its hash (the changeset is damaged)");
    }

    void finish() {
        Touch t;
        if (next_write(t)) fail("no content for " + show(t.path));
        if (!manifest_seen_) fail("no manifest after apply");
    }

    void make_backup_folders() {
        // Touches come in manifest order, so the folders needed so far form
        // a chain that only grows at its end or goes back up.
        std::vector<std::string> made;
        TouchReader touches(input_.touches);
        Touch t;
        state_.make_folders(layout::backup(input_.apply_id));
        while (touches.next(t)) {
            if (!t.before || t.before->type == EntryType::Directory) continue;
            std::string parent(manifest::parent_of(t.path));
            while (!made.empty() && made.back() != parent && !manifest::is_inside(parent, made.back())) made.pop_back();
            std::size_t start = made.empty() ? 0 : made.back().size() + 1;
            while (start < parent.size()) {
                std::size_t slash = parent.find('/', start);
                std::string folder = parent.substr(0, slash);
                state_.transport().mkdir(backup_file(input_.apply_id, folder));
                made.push_back(folder);
                if (slash == std::string::npos) break;
                start = slash + 1;
            }
        }
    }

private:
    [[noreturn]] void fail(const std::string& problem) const {
        throw Error("changeset for " + state_.describe() + ": " + problem + "; nothing was changed");
    }

    // The folders of new folders staged whole are made on the way, each
    // before what it holds (touches come in manifest order).
    bool next_write(Touch& t) {
        while (writes_.next(t)) {
            if (t.make == Touch::Make::Write) return true;
            if (t.make == Touch::Make::Folder && t.tree) {
                if (!trees_made_) state_.make_folders(layout::staging(input_.apply_id) + "/trees");
                trees_made_ = true;
                state_.transport().mkdir(staged_in_tree(input_.apply_id, t.tree, t.tree_root, t.path));
            }
        }
        return false;
    }

    struct Copied {
        std::uint64_t bytes;
        manifest::Hash128 hash;
    };

    Copied copy(transport::Reader& from, transport::Writer* to, std::uint64_t limit, const std::string& path) {
        manifest::StreamHasher hasher;
        std::uint64_t bytes = 0;
        while (std::size_t n = from.read(buffer_.data(), buffer_.size())) {
            bytes += n;
            if (bytes > limit) fail("more content than declared for " + show(path));
            hasher.update(buffer_.data(), n);
            to->write(buffer_.data(), n);
        }
        return {bytes, hasher.digest()};
    }

    // The manifest is kept in history, so it must be exactly what the target
    // holds after the commit: checked against the base and the touches.
    void take_manifest(transport::Reader& content) {
        if (manifest_seen_) fail("a second manifest");
        manifest_seen_ = true;
        manifest::TempFile local;
        {
            auto writer = state_.transport().create(layout::staging(input_.apply_id) + "/manifest");
            std::ofstream out(platform::stream_path(local.path().string()), std::ios::binary);
            while (std::size_t n = content.read(buffer_.data(), buffer_.size())) {
                writer->write(buffer_.data(), n);
                out.write(buffer_.data(), static_cast<std::streamsize>(n));
            }
            writer->commit(transport::Flush::Deferred);
            out.close();
            if (!out) throw Error("cannot write " + local.path().string() + ": disk full or I/O error");
        }
        manifest::ManifestReader after(local.path());
        if (after.root() != input_.header.new_root) fail("its manifest does not match its new root");
        check_manifest(after);
    }

    void check_manifest(manifest::ManifestReader& after) {
        manifest::ManifestReader base(input_.base_manifest);
        TouchReader touches(input_.touches);
        Touch t;
        bool has_touch = touches.next(t);
        while (true) {
            const Entry* b = base.peek();
            const Entry* a = after.peek();
            // The next path of the three streams.
            const std::string* path = nullptr;
            const std::string* candidates[] = {b ? &b->path : nullptr, a ? &a->path : nullptr,
                                               has_touch ? &t.path : nullptr};
            for (const std::string* p : candidates)
                if (p && (!path || manifest::compare_paths(*p, *path) < 0)) path = p;
            if (!path) return;
            std::string here = *path;
            std::optional<Entry> want;
            if (has_touch && t.path == here) {
                if (t.make == Touch::Make::Folder) want = Entry{here, EntryType::Directory, 0, {}};
                else if (t.make != Touch::Make::Nothing) want = Entry{here, EntryType::File, t.size, t.hash};
            } else if (b && b->path == here) {
                want = *b;
            }
            bool present = a && a->path == here;
            if (present != want.has_value()) {
                fail("its manifest " + std::string(present ? "lists " : "lacks ") + show(here) +
                     ", which the target " + (present ? "will not hold" : "will hold") + " after the commit");
            }
            if (present && (a->type != want->type ||
                            (a->type != EntryType::Directory && (a->size != want->size || a->hash != want->hash))))
                fail("its manifest disagrees with the target after the commit at " + show(here));
            if (b && b->path == here) base.pop();
            if (present) after.pop();
            if (has_touch && t.path == here) has_touch = touches.next(t);
        }
    }

    StateFolder& state_;
    const StageInput& input_;
    TouchReader writes_;
    std::string last_folder_;
    bool trees_made_ = false;
    bool manifest_seen_ = false;
    std::vector<char> buffer_ = std::vector<char>(kCopyBuffer);
};

}  // namespace

void stage(StateFolder& state, const StageInput& input, ContentFeed& feed) {
    Stager stager(state, input);
    state.make_folders(layout::staging(input.apply_id) + "/files");
    stager.make_backup_folders();
    feed.each([&](const std::string& name, std::uint64_t size, transport::Reader& reader) {
        stager.take(name, size, reader);
    });
    stager.finish();
    feed.check_unchanged();
}

}  // namespace exmsync::sync
