// Fuzz target: the sync protocol as a device runs it (net/sync_session.h),
// SyncSession::Receive on a real node with a real database, talking to its
// partner's device. The two devices (tests/fuzz/sync_world.h) are built once
// per process in a scratch directory.
//
// Input: a mode byte, then
//   0  messages from the partner's device: pieces (4-byte length), each
//      handed to Receive as one message (make_corpus recorded a real sync);
//   1  op batches the partner "writes": pieces (4-byte length) of
//      [flags][op batch]; the harness seals each as the next record of the
//      partner's feed (signed when flags & 1, and the last one always) and
//      delivers them as the partner would (Heads, Records, CaughtUp). This
//      reaches what a node does with any op a paired device may send.
//
// Properties: Receive fails only as the protocol says (kInvalidInput,
// kIntegrity, kAuth), never with an internal or storage error; after any
// input the node still lists its items and reports its status, and now and
// then (and before each reset) Verify() confirms that what it stored
// rebuilds to what it shows.
//
// State: the device under test keeps what it accepted. It is reopened from
// its template after an input in mode 0 stored records (so that the
// recorded seeds keep meeting a device that lacks them), and after
// kResetEvery inputs or kMaxStored records in any case, so that it never
// grows without bound.
#include <cstdlib>
#include <cstring>

#include "net/sync_session.h"
#include "tests/fuzz/fuzz_support.h"
#include "tests/fuzz/sync_world.h"

namespace hearth::fuzz {
namespace {

constexpr std::size_t kResetEvery = 2000;
constexpr std::uint64_t kMaxStored = 500;
constexpr std::size_t kVerifyEvery = 32;

struct State {
  std::unique_ptr<SyncWorld> world;
  std::size_t inputs_since_reset = 0;
  std::uint64_t stored_since_reset = 0;
  std::size_t inputs_that_stored = 0;
  bool reset_due = false;
};

State& TheState() {
  static State state;
  return state;
}

// HEARTH_FUZZ_VERBOSE=1 shows what each input did (whether the seeds still
// reach the node: they stop verifying if the two devices come out differently).
bool Verbose() {
  static const bool verbose = std::getenv("HEARTH_FUZZ_VERBOSE") != nullptr;
  return verbose;
}

void CheckNodeHealthy(node::Node& a, bool verify) {
  auto listed = a.List({});
  HEARTH_FUZZ_CHECK(listed.ok(), "the node cannot list its items after a sync");
  auto status = a.GetStatus();
  HEARTH_FUZZ_CHECK(status.ok(), "the node cannot report its status after a sync");
  if (verify) {
    auto verified = a.Verify();
    if (!verified.ok()) std::fprintf(stderr, "Verify: %s\n", verified.error().message.c_str());
    HEARTH_FUZZ_CHECK(verified.ok(), "what the node stored does not verify");
  }
}

void ResetIfDue(State& s) {
  if (!s.reset_due && s.inputs_since_reset < kResetEvery && s.stored_since_reset < kMaxStored) return;
  CheckNodeHealthy(s.world->a(), true);
  HEARTH_FUZZ_CHECK(s.world->ResetA().ok(), "the device under test could not be reopened");
  s.inputs_since_reset = 0;
  s.stored_since_reset = 0;
  s.reset_due = false;
}

// Hands one message to the session; false when the session must end.
bool Deliver(net::SyncSession& session, ByteView message) {
  const Status received = session.Receive(message);
  session.outbox().clear();  // what "a" answers goes nowhere
  if (received.ok()) return true;
  if (Verbose()) std::fprintf(stderr, "fuzz_sync: Receive: %s\n", received.error().message.c_str());
  const Errc code = received.error().code;
  if (code != Errc::kInvalidInput && code != Errc::kIntegrity && code != Errc::kAuth) {
    std::fprintf(stderr, "Receive: %s\n", received.error().message.c_str());
    HEARTH_FUZZ_CHECK(false, "Receive failed other than the protocol says");
  }
  return false;
}

void Run(ByteView data) {
  State& s = TheState();
  ++s.inputs_since_reset;
  node::Node& a = s.world->a();
  Pieces pieces(data, 4);
  const std::uint8_t mode = pieces.Byte().value_or(0) % 2;

  net::SyncSession session(a, s.world->b_seen_by_a());
  HEARTH_FUZZ_CHECK(session.Start().ok(), "a session did not start");
  session.outbox().clear();
  if (mode == 0) {
    while (auto message = pieces.Next()) {
      if (!Deliver(session, *message)) break;
    }
  } else {
    std::vector<SyncWorld::Draft> drafts;
    while (auto piece = pieces.Next()) {
      if (piece->empty()) continue;
      drafts.push_back({piece->subspan(1), ((*piece)[0] & 1) != 0});
    }
    auto head = a.HeadOf(s.world->b_feed());
    HEARTH_FUZZ_CHECK(head.ok(), "the node cannot tell its head of the partner's feed");
    node::FeedHead from = head->value_or(node::FeedHead{s.world->b_feed(), 0, {}});
    for (const Bytes& message : s.world->DeliverAsB(from, drafts)) {
      if (!Deliver(session, message)) break;
    }
  }

  const std::uint64_t stored = session.stats().records_received;
  if (Verbose()) {
    std::fprintf(stderr, "fuzz_sync: mode %d stored %llu records\n", mode, static_cast<unsigned long long>(stored));
  }
  if (stored > 0) {
    s.stored_since_reset += stored;
    if (mode == 0) s.reset_due = true;
    ++s.inputs_that_stored;
    CheckNodeHealthy(a, s.inputs_that_stored % kVerifyEvery == 0);
  }
  // Checked (and reset) now, so that a failure is reported with the input
  // that caused it.
  ResetIfDue(s);
}

}  // namespace
}  // namespace hearth::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  using namespace hearth::fuzz;
  InstallSeededRandom();
  if (!hearth::crypto::Init().ok()) std::abort();
  TheState().world = SyncWorld::Create(ScratchDir("sync"));
  if (!TheState().world) {
    std::fprintf(stderr, "fuzz_sync: could not build the two devices\n");
    std::abort();
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  hearth::fuzz::Run(hearth::ByteView(data, size));
  return 0;
}
