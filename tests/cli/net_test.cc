// Real `hearth` processes pairing and syncing over loopback: invite/join for
// a partner and an own device, refused codes and peers, garbage on the wire,
// and live push from a CLI write to the other node.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "tests/cli/net_fixture.h"

namespace hearth::testing {
namespace {

TEST_F(NetTest, PartnerAndOwnDeviceJoinAndEverythingSyncs) {
  Init("sam", "Sam");
  ASSERT_EQ(Hearth("sam", {"write", "before the partner joined"}).exit_code, 0);
  ASSERT_EQ(Hearth("sam", {"write", "--private", "only my devices"}).exit_code, 0);
  const std::string sam = Serve("sam");
  // The partner.
  const std::string partner_code = Invite("sam", "partner");
  auto joined = Hearth("alex", {"join", partner_code, "--name", "Alex", "--no-passphrase"});
  ASSERT_EQ(joined.exit_code, 0) << joined.err;
  EXPECT_TRUE(Shows("alex", "before the partner joined"));
  EXPECT_FALSE(Shows("alex", "only my devices"));
  // Sam's second device gets the private entry too.
  const std::string device_code = Invite("sam", "device");
  auto second = Hearth("sam2", {"join", device_code, "--device-name", "sam-phone", "--no-passphrase"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_TRUE(Shows("sam2", "only my devices"));
  // Alex writes; a sync round carries it to Sam's serve and on to sam2.
  ASSERT_EQ(Hearth("alex", {"appreciate", "thank you for the tea"}).exit_code, 0);
  auto r = Hearth("alex", {"sync", "--peer", sam});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(Shows("sam", "thank you for the tea"));
  ASSERT_EQ(Hearth("sam2", {"sync", "--peer", sam}).exit_code, 0);
  EXPECT_TRUE(Shows("sam2", "thank you for the tea"));
  // Everyone sees both members; nothing private reached Alex's disk as a feed.
  auto st = json::parse(Hearth("alex", {"status", "--json"}).out);
  EXPECT_EQ(st["members"].size(), 2u);
  EXPECT_EQ(st["devices"].size(), 3u);
  EXPECT_EQ(Hearth("alex", {"verify"}).exit_code, 0);
  EXPECT_EQ(Hearth("sam2", {"verify"}).exit_code, 0);
}

TEST_F(NetTest, UsedExpiredMistypedAndUnknownCodesAreRefusedAndChangeNothing) {
  Init("sam", "Sam");
  const std::string sam = Serve("sam");
  const std::string code = Invite("sam", "partner");
  ASSERT_EQ(Hearth("alex", {"join", code, "--name", "Alex", "--no-passphrase"}).exit_code, 0);
  // Used.
  auto used = Hearth("mallory", {"join", code, "--name", "M", "--no-passphrase"});
  EXPECT_EQ(used.exit_code, 1);
  EXPECT_NE(used.err.find("already used"), std::string::npos) << used.err;
  EXPECT_FALSE(fs::exists(Home("mallory")));
  // Mistyped: one character changed.
  std::string typo = Invite("sam", "partner");
  const std::size_t pos = typo.size() - 8;
  typo[pos] = typo[pos] == 'A' ? 'B' : 'A';
  auto bad = Hearth("mallory", {"join", typo, "--name", "M", "--no-passphrase"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("mistyped"), std::string::npos) << bad.err;
  EXPECT_FALSE(fs::exists(Home("mallory")));
  // Expired.
  const std::string short_code = Invite("sam", "partner", {"--ttl", "1s"});
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  auto expired = Hearth("mallory", {"join", short_code, "--name", "M", "--no-passphrase"});
  EXPECT_EQ(expired.exit_code, 1);
  EXPECT_NE(expired.err.find("expired"), std::string::npos) << expired.err;
  EXPECT_FALSE(fs::exists(Home("mallory")));
  // Unknown: a well-formed code that Sam's node never filed (Kim's, whose
  // node has gone; Sam's now listens at the address the code names).
  Init("kim", "Kim");
  const std::string kim = Serve("kim");
  const std::string foreign = Invite("kim", "partner");
  ::kill(children_.back().pid, SIGTERM);
  WaitChild(children_.back().pid);
  children_.pop_back();
  ASSERT_FALSE(Serve("sam", {}, false, kim).empty());
  auto unknown = Hearth("mallory", {"join", foreign, "--name", "M", "--no-passphrase"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("does not know this invite code"), std::string::npos) << unknown.err;
  EXPECT_FALSE(fs::exists(Home("mallory")));
  // Sam's roster did not change (invites filed meanwhile do change the file,
  // so compare the roster, not the bytes).
  auto st = json::parse(Hearth("sam", {"status", "--json"}).out);
  EXPECT_EQ(st["devices"].size(), 2u);
}

TEST_F(NetTest, AStrangersNodeIsRefusedWithExitFour) {
  Init("sam", "Sam");
  Init("stranger", "Eve");
  const std::string sam = Serve("sam");
  const std::string before = Snapshot(Home("stranger"));
  const std::string sam_before = Snapshot(Home("sam"));
  auto r = Hearth("stranger", {"sync", "--peer", sam, "--timeout", "5"});
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
  auto st = json::parse(Hearth("sam", {"status", "--json"}).out);
  EXPECT_EQ(st["devices"].size(), 1u);
  EXPECT_EQ(st["peers"].size(), 0u);
  EXPECT_EQ(Snapshot(Home("stranger")), before);
  EXPECT_EQ(Snapshot(Home("sam")), sam_before);
}

TEST_F(NetTest, NoReachablePeerExitsThree) {
  Init("sam", "Sam");
  auto r = Hearth("sam", {"sync", "--peer", "127.0.0.1:1", "--timeout", "2"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  auto none = Hearth("sam", {"sync"});
  EXPECT_EQ(none.exit_code, 3) << none.err;
  auto typo = Hearth("sam", {"sync", "--peer", "not-an-address"});
  EXPECT_EQ(typo.exit_code, 1) << typo.err;
}

// Sends `bytes` to `address` and returns once the server closed or 0.3 s passed.
void SendGarbage(const std::string& address, const std::string& bytes) {
  const auto colon = address.rfind(':');
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1))));
  ::inet_pton(AF_INET, address.substr(0, colon).c_str(), &sa.sin_addr);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  (void)!::write(fd, bytes.data(), bytes.size());
  timeval tv{0, 300'000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[256];
  while (::read(fd, buf, sizeof buf) > 0) {
  }
  ::close(fd);
}

TEST_F(NetTest, GarbageBytesAreRefusedAndTheNodeKeepsServing) {
  Init("sam", "Sam");
  const std::string sam = Serve("sam");
  const std::string code = Invite("sam", "partner");
  ASSERT_EQ(Hearth("alex", {"join", code, "--name", "Alex", "--no-passphrase"}).exit_code, 0);
  const std::string before = Snapshot(Home("sam"));
  std::mt19937_64 rng(1234);
  for (int i = 0; i < 20; ++i) {
    std::string junk(1 + rng() % 2000, '\0');
    for (auto& c : junk) c = static_cast<char>(rng());
    if (i % 3 == 0) junk[0] = 'S';  // a sync connection with a garbage handshake
    if (i % 3 == 1) junk[0] = 'J';  // a join with a garbage hello
    SendGarbage(sam, junk);
  }
  // A huge declared frame length does not make it allocate or wait forever.
  SendGarbage(sam, std::string("S\xff\xff", 3) + std::string(100, 'x'));
  // Still serving, unchanged, and a real peer still syncs.
  EXPECT_EQ(Snapshot(Home("sam")), before);
  ASSERT_EQ(Hearth("alex", {"write", "after the garbage"}).exit_code, 0);
  auto r = Hearth("alex", {"sync", "--peer", sam});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Shows("sam", "after the garbage"));
}

TEST_F(NetTest, LivePushFromACliWriteReachesTheOtherNode) {
  Init("sam", "Sam");
  const std::string sam = Serve("sam");
  const std::string code = Invite("sam", "partner");
  ASSERT_EQ(Hearth("alex", {"join", code, "--name", "Alex", "--no-passphrase"}).exit_code, 0);
  Serve("alex", {"--peer", sam});
  // Both directions, written by separate CLI processes on each home.
  ASSERT_EQ(Hearth("sam", {"write", "pushed to Alex"}).exit_code, 0);
  const double ms = WaitFor("alex", "pushed to Alex");
  EXPECT_GE(ms, 0) << "a write on Sam's home never reached Alex";
  EXPECT_LT(ms, 1000) << "live push took " << ms << " ms";
  ASSERT_EQ(Hearth("alex", {"appreciate", "pushed to Sam"}).exit_code, 0);
  EXPECT_GE(WaitFor("sam", "pushed to Sam"), 0);
  auto st = json::parse(Hearth("sam", {"status", "--json"}).out);
  ASSERT_GE(st["peers"].size(), 1u);
}

TEST_F(NetTest, LanDiscoveryConnectsTheSpacesDevicesAndNoStranger) {
  Init("sam", "Sam");
  Serve("sam", {}, true);
  const std::string code = Invite("sam", "partner");
  ASSERT_EQ(Hearth("alex", {"join", code, "--name", "Alex", "--no-passphrase"}).exit_code, 0);
  // No --peer anywhere: Alex's node finds Sam's by its beacons alone. A
  // stranger's node beacons on the same port and is never connected.
  Serve("alex", {}, true);
  Init("kim", "Kim");
  Serve("kim", {}, true);
  ASSERT_EQ(Hearth("sam", {"write", "found by beacon"}).exit_code, 0);
  EXPECT_GE(WaitFor("alex", "found by beacon", 10000), 0) << "Alex's node never connected to Sam's";
  ASSERT_EQ(Hearth("alex", {"write", "and back"}).exit_code, 0);
  EXPECT_GE(WaitFor("sam", "and back", 5000), 0);
  for (const std::string home : {"sam", "alex"}) {
    auto st = json::parse(Hearth(home, {"status", "--json"}).out);
    ASSERT_EQ(st["peers"].size(), 1u) << home << ": " << st.dump();
    EXPECT_EQ(st["peers"][0]["connected"], true) << home;
  }
  EXPECT_EQ(json::parse(Hearth("kim", {"status", "--json"}).out)["peers"].size(), 0u);
  EXPECT_FALSE(Shows("kim", "found by beacon"));
}

}  // namespace
}  // namespace hearth::testing
