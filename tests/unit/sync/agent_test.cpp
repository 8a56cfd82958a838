// The agent protocol over a local subprocess stream: a real `exmsync agent`
// started as a child process, no sshd in between. Then the other side
// misbehaving: another protocol version, something that is no agent, nothing
// at all, garbage after the handshake, and a connection cut at byte offsets
// of the archive. The target must end old or new and the next push finish.
#include <gtest/gtest.h>
#include <signal.h>

#include <sys/wait.h>

#include <atomic>
#include <fstream>
#include <random>
#include <thread>

#include "support/polling.hpp"
#include "support/random_tree.hpp"
#include "support/tree_root.hpp"
#include "sync/agent/client.hpp"
#include "sync/agent/protocol.hpp"
#include "sync/apply.hpp"
#include "sync/lock.hpp"
#include "platform/process.hpp"
#include "sync/push.hpp"
#include "sync/shared_work.hpp"

using namespace exmsync;
using namespace exmsync::testing;

namespace {

const std::string kExmsync = EXMSYNC_BINARY;

sync::PushOptions no_cache() {
    sync::PushOptions o;
    o.use_cache = false;  // the source changes faster than the racy-clean window
    return o;
}

// An agent for `target` as a child process, behind `wrapper` (a shell
// pipeline around it, "%s" standing for the agent's command line).
std::unique_ptr<sync::Target> local_agent(const fs::path& target, const std::string& wrapper = "%s") {
    std::string agent = shell_quote(kExmsync) + " agent --root=" + shell_quote(target.string());
    std::string command = wrapper;
    command.replace(command.find("%s"), 2, agent);
    std::string why_not;
    auto t = sync::agent::connect_agent(sync::agent::process_stream({"/bin/sh", "-c", command}, 30), "local-agent",
                                        why_not);
    if (!t) throw std::runtime_error("no agent: " + why_not);
    return t;
}

// What connect_agent says about a program that is not a compatible agent.
std::string refusal_of(const std::string& script) {
    std::string why_not;
    auto t = sync::agent::connect_agent(sync::agent::process_stream({"/bin/sh", "-c", script}, 30), "fake", why_not);
    EXPECT_EQ(t, nullptr) << script;
    return why_not;
}

// A push as `exmsync push` reports it: a failure is a result, not a throw.
sync::TargetResult push_through(sync::Target& target, const fs::path& src) {
    auto source = sync::PushSource::open(src.string(), no_cache());
    try {
        return sync::push_to(target, "local-agent", *source, no_cache());
    } catch (const std::exception& e) {
        sync::TargetResult r;
        r.error = e.what();
        r.error_code = sync::error_code(e);
        return r;
    }
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// `size` random bytes: an incompressible file makes a long archive, so that a
// cut at a byte offset lands inside it.
std::string noise(std::size_t size, unsigned seed) {
    std::string bytes(size, '\0');
    std::mt19937_64 rng(seed);
    for (char& c : bytes) c = static_cast<char>(rng());
    return bytes;
}

class Agent : public ::testing::Test {
protected:
    void SetUp() override {
        TreeMaker(21).make(src);
        fs::create_directories(target);
    }
    TempDir dir{scratch_parent()};
    fs::path src = dir / "src", target = dir / "target";
};

TEST_F(Agent, PushesNoOpsAndChanges) {
    auto first = local_agent(target);
    EXPECT_EQ(first->mode(), "agent");
    auto r = push_through(*first, src);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(tree_root(target), tree_root(src));

    // A no-op moves the handshake, the scan request and its reply.
    auto second = local_agent(target);
    r = push_through(*second, src);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_TRUE(r.already_in_sync);
    EXPECT_LT(r.traffic.sent + r.traffic.received, 2048u);

    TreeMaker(21).mutate(src);
    auto third = local_agent(target);
    r = push_through(*third, src);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_GT(r.changes.renames, 0u);
    EXPECT_EQ(tree_root(target), tree_root(src));
    EXPECT_EQ(r.mode, "agent");

    auto history = local_agent(target)->history();
    ASSERT_EQ(history.size(), 3u);  // 000000, then two pushes
    EXPECT_TRUE(history.back().current);
    EXPECT_EQ(history.back().record.apply_id, r.apply_id);
}

// The agent runs under faketime so that the files the first push wrote are
// past the stat cache's racy window, as they would be at the next scheduled
// push.
TEST_F(Agent, ASettledNoOpTakesNoLockAndWritesNothing) {
    auto later = [&](int seconds) {
        return local_agent(target, "NO_FAKE_STAT=1 faketime -f +" + std::to_string(seconds) + "s %s");
    };
    ASSERT_TRUE(push_through(*local_agent(target), src).ok);
    // The first apply recorded no stat for the files it wrote: this no-op
    // hashes them, under the lock, and writes the target's stat cache.
    auto full = push_through(*later(5), src);
    ASSERT_TRUE(full.ok) << full.error;
    ASSERT_TRUE(full.already_in_sync);
    const auto before = everything(target);
    ASSERT_TRUE(before.count(".exmsync/statcache"));

    auto quiet = push_through(*later(10), src);
    ASSERT_TRUE(quiet.ok) << quiet.error;
    EXPECT_TRUE(quiet.already_in_sync);
    EXPECT_EQ(everything(target), before) << "a lock or a stat cache came and went";

    // A hand edit: the full way, under the lock, which reports it as drift.
    write_file(target / "d0/t0.html", "edited by hand");
    auto edited = push_through(*later(15), src);
    ASSERT_TRUE(edited.ok) << edited.error;
    EXPECT_EQ(edited.drift_count, 1u);
    EXPECT_EQ(tree_root(target), tree_root(src));
}

TEST_F(Agent, ErrorsComeBackWithTheirCodes) {
    pid_t sleeper = ::fork();
    if (sleeper == 0) {
        ::execl("/bin/sleep", "sleep", "30", static_cast<char*>(nullptr));
        std::_Exit(127);
    }
    write_file(target / ".exmsync/lock", "host=" + platform::host_name() + "\npid=" + std::to_string(sleeper) +
                                             "\nsince=2026-01-01T00:00:00Z\n");
    auto t = local_agent(target);
    try {
        t->open(true);
        ADD_FAILURE() << "a live lock was broken";
    } catch (const sync::Error& e) {
        EXPECT_STREQ(e.code(), "locked");
        EXPECT_TRUE(contains(e.what(), "pid " + std::to_string(sleeper))) << e.what();
    }
    ::kill(sleeper, SIGKILL);
    int status = 0;
    ::waitpid(sleeper, &status, 0);
}

TEST_F(Agent, AnotherProtocolVersionIsToldApart) {
    std::string why = refusal_of(
        R"(echo '{"exmsync-agent":1,"protocol":0,"version":"0.0.9","os":"linux"}'; cat >/dev/null)");
    EXPECT_TRUE(contains(why, "exmsync 0.0.9 there speaks agent protocol 0")) << why;
    EXPECT_TRUE(contains(why, "speaks " + std::to_string(sync::agent::kProtocol))) << why;
    EXPECT_TRUE(contains(why, "install the same version on both sides")) << why;
}

TEST_F(Agent, TheAgentRefusesAClientOfAnotherProtocol) {
    auto r = run("echo '{\"exmsync-client\":1,\"protocol\":99}' | " + shell_quote(kExmsync) + " agent --root=" +
                 shell_quote(target.string()));
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_TRUE(contains(r.err, "the client speaks agent protocol 99")) << r.err;
    EXPECT_TRUE(fs::is_empty(target));
}

TEST_F(Agent, SomethingElseAnsweringIsNoAgent) {
    std::string why = refusal_of("echo 'Welcome to dispatch01!'; cat >/dev/null");
    EXPECT_TRUE(contains(why, "the server answered 'Welcome to dispatch01!', not an exmsync agent")) << why;
    why = refusal_of("echo 'sh: 1: exmsync: not found' >&2; exit 127");
    EXPECT_TRUE(contains(why, "no exmsync agent answered (sh: 1: exmsync: not found)")) << why;
    why = refusal_of("exit 3");
    EXPECT_TRUE(contains(why, "no exmsync agent answered (exit status 3)")) << why;
}

// Garbage after a valid handshake is a lost connection, not a crash.
TEST_F(Agent, GarbageAfterTheHandshakeIsALostConnection) {
    std::string why_not;
    auto t = sync::agent::connect_agent(
        sync::agent::process_stream(
            {"/bin/sh", "-c", R"(echo '{"exmsync-agent":1,"protocol":1,"version":"x"}'; head -c 50 >/dev/null; )"
                              R"(printf 'ZZZZZZZZZZZZZZZZZZZZ'; cat >/dev/null)"},
            30),
        "fake", why_not);
    ASSERT_NE(t, nullptr) << why_not;
    try {
        t->open(false);
        ADD_FAILURE() << "garbage accepted";
    } catch (const sync::UnreachableError& e) {
        EXPECT_TRUE(contains(e.what(), "fake: lost the connection")) << e.what();
    }
}

// The client's stream cut after N bytes, at points through the archive: the
// agent never commits a part of it, leaves no lock, and the next push
// completes the change.
TEST_F(Agent, ACutConnectionLeavesTheTargetOldAndTheNextPushFinishes) {
    ASSERT_TRUE(push_through(*local_agent(target), src).ok);
    const auto old_root = tree_root(target);
    TreeMaker maker(22);
    maker.mutate(src);
    write_file(src / "new/noise.bin", noise(400 * 1024, 5));
    const auto new_root = tree_root(src);

    for (std::uint64_t cut : {600ull, 5'000ull, 60'000ull, 200'000ull, 390'000ull}) {
        // stdbuf: head must pass on each request at once, not when its buffer fills.
        auto t = local_agent(target, "stdbuf -o0 head -c " + std::to_string(cut) + " | %s");
        auto r = push_through(*t, src);
        EXPECT_FALSE(r.ok) << "cut at " << cut;
        t.reset();  // the agent ends once its stream is gone; on a busy machine, a moment later
        EXPECT_TRUE(wait_for([&] {
            return !fs::exists(target / ".exmsync/lock") && !fs::exists(target / ".exmsync/journal");
        })) << "cut at " << cut << ": the agent left its lock or journal";
        EXPECT_EQ(tree_root(target), old_root) << "cut at " << cut;
    }
    auto r = push_through(*local_agent(target), src);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(tree_root(target), new_root);
}

// Several targets pushed at once from one source, as push() does, with the
// work shared between those that hold the same files.
std::vector<sync::TargetResult> push_shared(std::vector<std::unique_ptr<sync::Target>>& targets,
                                            const sync::PushSource& source) {
    std::vector<sync::TargetResult> results(targets.size());
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < targets.size(); ++i) {
        threads.emplace_back([&, i] {
            try {
                results[i] = sync::push_to(*targets[i], "target " + std::to_string(i), source, no_cache());
            } catch (const std::exception& e) {
                results[i].error = e.what();
                results[i].error_code = sync::error_code(e);
            }
        });
    }
    for (auto& t : threads) t.join();
    return results;
}

std::unique_ptr<sync::PushSource> shared_source(const fs::path& src) {
    auto source = sync::PushSource::open(src.string(), no_cache());
    source->shared = std::make_unique<sync::SharedWork>(source->root);
    return source;
}

// Three targets where the last push left them get one plan and one archive;
// a fourth that holds other files gets its own. A target whose connection is
// cut while it copies the shared archive fails alone and stays old.
TEST_F(Agent, TargetsHoldingTheSameFilesShareOnePlanAndOneArchive) {
    const fs::path others[] = {dir / "t1", dir / "t2", dir / "t3"};
    std::vector<std::unique_ptr<sync::Target>> targets;
    targets.push_back(local_agent(target));
    for (const auto& t : others) {
        fs::create_directories(t);
        targets.push_back(local_agent(t));
    }
    auto first = shared_source(src);
    auto results = push_shared(targets, *first);
    for (const auto& r : results) ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(results[0].plan, results[3].plan) << "empty targets share the first push";
    EXPECT_EQ(first->shared->archives(), 1u);

    TreeMaker maker(23);
    maker.mutate(src);
    write_file(src / "new/noise.bin", noise(300 * 1024, 7));
    write_file(others[2] / "edited by hand.txt", "drift");
    const auto old_root = tree_root(others[1]);
    targets.clear();
    targets.push_back(local_agent(target));
    targets.push_back(local_agent(others[0]));
    targets.push_back(local_agent(others[1], "stdbuf -o0 head -c 3000 | %s"));  // cut inside the archive
    targets.push_back(local_agent(others[2]));
    auto second = shared_source(src);
    results = push_shared(targets, *second);
    targets.clear();
    EXPECT_EQ(second->shared->archives(), 2u) << "one for the three alike, one for the edited target";
    ASSERT_TRUE(results[0].ok) << results[0].error;
    ASSERT_TRUE(results[1].ok) << results[1].error;
    ASSERT_TRUE(results[3].ok) << results[3].error;
    EXPECT_FALSE(results[2].ok);
    EXPECT_EQ(results[0].plan, results[1].plan);
    EXPECT_NE(results[0].plan, results[3].plan) << "a target with other files has its own plan";
    EXPECT_EQ(results[3].changes.deletes, results[0].changes.deletes + 1);
    for (const auto& t : {target, others[0], others[2]}) EXPECT_EQ(tree_root(t), tree_root(src)) << t;
    EXPECT_EQ(tree_root(others[1]), old_root);

    auto r = push_through(*local_agent(others[1]), src);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(tree_root(others[1]), tree_root(src));
}

// A target that takes archives without a way of its own to take a shared one
// gets it through a local file (Target::apply_packed).
class ArchiveTakingTarget : public sync::DirectTarget {
public:
    using DirectTarget::DirectTarget;
    bool takes_archives() const override { return true; }
};

TEST_F(Agent, ATargetWithoutItsOwnWayTakesTheSharedArchiveThroughAFile) {
    const fs::path second = dir / "second";
    fs::create_directories(second);
    std::vector<std::unique_ptr<sync::Target>> targets;
    for (const auto& t : {target, second})
        targets.push_back(std::make_unique<ArchiveTakingTarget>(transport::open_transport(t.string()), "local", ""));
    auto results = push_shared(targets, *shared_source(src));
    for (const auto& r : results) ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(results[0].plan, results[1].plan);
    EXPECT_EQ(tree_root(target), tree_root(src));
    EXPECT_EQ(tree_root(second), tree_root(src));
}

// A source file that changes after the scan refuses the shared archive for
// every target waiting on it: all stay old, and the next push finishes them.
TEST_F(Agent, ASourceChangeWhileTheSharedArchiveIsPackedLeavesEveryTargetOld) {
    const fs::path second = dir / "second";
    fs::create_directories(second);
    {
        std::vector<std::unique_ptr<sync::Target>> targets;
        targets.push_back(local_agent(target));
        targets.push_back(local_agent(second));
        for (const auto& r : push_shared(targets, *shared_source(src))) ASSERT_TRUE(r.ok) << r.error;
    }
    const auto old_root = tree_root(target);
    write_file(src / "changed.html", std::string(200 * 1024, 'a'));
    auto source = shared_source(src);
    write_file(src / "changed.html", std::string(200 * 1024, 'b'));  // same size, after the scan

    std::vector<std::unique_ptr<sync::Target>> targets;
    targets.push_back(local_agent(target));
    targets.push_back(local_agent(second));
    auto results = push_shared(targets, *source);
    targets.clear();
    EXPECT_EQ(source->shared->archives(), 1u) << "both targets wait on the same packing";
    for (const auto& r : results) {
        EXPECT_FALSE(r.ok);
        EXPECT_EQ(r.error_code, "source-changed") << r.error;
        EXPECT_TRUE(contains(r.error, "changed.html")) << r.error;
    }
    EXPECT_EQ(tree_root(target), old_root);
    EXPECT_EQ(tree_root(second), old_root);
    EXPECT_FALSE(fs::exists(target / ".exmsync/lock"));

    targets.push_back(local_agent(target));
    targets.push_back(local_agent(second));
    for (const auto& r : push_shared(targets, *shared_source(src))) ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(tree_root(target), tree_root(src));
    EXPECT_EQ(tree_root(second), tree_root(src));
}

// The pid of the running `exmsync agent` serving `target`, or 0. Read from
// /proc in this process: a pkill through a shell takes long enough on a busy
// machine for a short commit to finish first.
pid_t agent_pid(const fs::path& target) {
    using namespace std::string_literals;
    const std::string wanted = "agent\0--root="s + target.string() + '\0';
    boost::system::error_code ec;
    for (const auto& e : fs::directory_iterator("/proc", ec)) {
        const auto name = e.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream in(e.path() / "cmdline", std::ios::binary);
        std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (contains(cmdline, wanted)) return static_cast<pid_t>(std::stoi(name));
    }
    return 0;
}

// The agent killed during its commit: the journal lets the next push finish
// or undo it, the dead agent's lock is taken over, and the target ends new.
TEST_F(Agent, AKilledAgentIsRecoveredByTheNextPush) {
    ASSERT_TRUE(push_through(*local_agent(target), src).ok);
    // A commit can still end before the kill lands on a loaded machine; then
    // the target is simply new, and the next round tries with another change.
    bool killed = false;
    for (int round = 0; round < 5 && !killed; ++round) {
        const auto old_root = tree_root(target);
        if (round == 0) TreeMaker(23).mutate(src);  // mutate() expects the tree make() made
        // Enough files that the commit lasts longer than it takes to kill it.
        for (int i = 0; i < 3000; ++i)
            write_file(src / ("bulk" + std::to_string(round)) / std::to_string(i % 30) / (std::to_string(i) + ".html"),
                       "x");
        const auto new_root = tree_root(src);

        std::atomic<bool> done{false}, fired{false};
        std::thread killer([&] {
            pid_t pid = 0;
            while (!done) {
                if (pid == 0) pid = agent_pid(target);
                if (pid != 0 && fs::exists(target / ".exmsync/journal")) {
                    fired = ::kill(pid, SIGKILL) == 0;
                    return;
                }
                std::this_thread::sleep_for(std::chrono::microseconds(100));
            }
        });
        auto r = push_through(*local_agent(target), src);
        done = true;
        killer.join();
        if (r.ok) {
            EXPECT_EQ(tree_root(target), new_root);
            continue;
        }
        ASSERT_TRUE(fired) << r.error;
        killed = true;
        auto root = tree_root(target);
        EXPECT_TRUE(root == old_root || root == new_root || fs::exists(target / ".exmsync/journal"))
            << "a mix with no journal to recover it";
        r = push_through(*local_agent(target), src);
        ASSERT_TRUE(r.ok) << r.error;
        EXPECT_EQ(tree_root(target), new_root);
        bool took_over = false;
        for (const auto& n : r.notes) took_over |= contains(n, "removed a stale lock");
        EXPECT_TRUE(took_over);
    }
    EXPECT_TRUE(killed) << "every commit ended before the agent could be killed";
}

}  // namespace
