// Real `hearth` and `hearth-relay` processes on loopback: partners whose
// nodes know only the relay sync live through it; the mailbox carries records
// to a partner who was offline, across a relay restart; a recording proxy and
// the relay's files hold none of what the partners wrote; and a relay that
// tampers (in the pipes or in its stored mailbox) never gets a node to accept
// a changed record.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <SQLiteCpp/SQLiteCpp.h>
#include <atomic>
#include <mutex>
#include <set>

#include "net/relay/server.h"
#include "tests/cli/net_fixture.h"

namespace hearth::testing {
namespace {

int ConnectTo(const std::string& host_port) {
  const auto colon = host_port.rfind(':');
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(std::stoi(host_port.substr(colon + 1))));
  ::inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &sa.sin_addr);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// A TCP proxy in front of the relay that keeps a copy of every byte it
// forwards, both ways: what an observer of the network (or the relay's
// operator, before its own decryption) could record.
class RecordingProxy {
 public:
  explicit RecordingProxy(std::string target) : target_(std::move(target)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    ::listen(listen_fd_, 64);
    socklen_t len = sizeof sa;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  ~RecordingProxy() {
    stop_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    acceptor_.join();
    for (auto& t : pumps_) t.join();
  }
  std::string host_port() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string recorded() {
    std::lock_guard lock(mu_);
    return recorded_;
  }

 private:
  void AcceptLoop() {
    while (!stop_) {
      int client = ::accept(listen_fd_, nullptr, nullptr);
      if (client < 0) return;
      int server = ConnectTo(target_);
      if (server < 0) {
        ::close(client);
        continue;
      }
      pumps_.emplace_back([this, client, server] { Pump(client, server); });
    }
  }
  void Pump(int a, int b) {
    char buf[65536];
    pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
    while (!stop_) {
      if (::poll(fds, 2, 100) < 0) break;
      bool closed = false;
      for (int i = 0; i < 2 && !closed; ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
        if (n <= 0) {
          closed = true;
          break;
        }
        {
          std::lock_guard lock(mu_);
          recorded_.append(buf, static_cast<std::size_t>(n));
        }
        const int to = fds[1 - i].fd;
        for (ssize_t off = 0; off < n;) {
          const ssize_t w = ::write(to, buf + off, static_cast<std::size_t>(n - off));
          if (w <= 0) {
            closed = true;
            break;
          }
          off += w;
        }
      }
      if (closed) break;
    }
    ::close(a);
    ::close(b);
  }

  std::string target_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::vector<std::thread> pumps_;
  std::mutex mu_;
  std::string recorded_;
};

// Every byte of every file under `dir`.
std::string FilesUnder(const fs::path& dir) {
  std::string all;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    all += std::string(std::istreambuf_iterator<char>(in), {});
  }
  return all;
}

using RelayNetTest = NetTest;

TEST_F(RelayNetTest, PartnersWhoseNodesKnowOnlyTheRelaySyncLive) {
  PairPartners();
  const std::string relay = StartRelay("relay");
  // No --peer, no discovery: each node knows the relay and nothing else.
  Serve("sam", {"--relay", relay});
  Serve("alex", {"--relay", relay});
  ASSERT_EQ(Hearth("sam", {"write", "written at Sam's, read at Alex's"}).exit_code, 0);
  EXPECT_GE(WaitFor("alex", "written at Sam's, read at Alex's", 10000), 0) << "never reached Alex through the relay";
  ASSERT_EQ(Hearth("alex", {"appreciate", "and the answer came back"}).exit_code, 0);
  EXPECT_GE(WaitFor("sam", "and the answer came back", 10000), 0) << "never reached Sam through the relay";
  // Live, not only by mailbox: each sees the other connected.
  for (const std::string home : {"sam", "alex"}) {
    auto st = json::parse(Hearth(home, {"status", "--json"}).out);
    ASSERT_EQ(st["peers"].size(), 1u) << home << ": " << st.dump();
    EXPECT_EQ(st["peers"][0]["connected"], true) << home;
  }
  EXPECT_EQ(Hearth("sam", {"verify"}).exit_code, 0);
  EXPECT_EQ(Hearth("alex", {"verify"}).exit_code, 0);
}

TEST_F(RelayNetTest, TheMailboxCarriesRecordsToAPartnerWhoWasOfflineAcrossARelayRestart) {
  const std::string relay = StartRelay("relay");
  const std::string host_port = relay.substr(0, relay.find('/'));
  // The relay is saved in the space before the partner joins, so the join
  // carries it: nobody types it again.
  Init("sam", "Sam");
  auto set = Hearth("sam", {"relay", "set", relay});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  Serve("sam");
  ASSERT_EQ(Hearth("alex", {"join", Invite("sam", "partner"), "--name", "Alex", "--no-passphrase"}).exit_code, 0);
  ASSERT_EQ(Hearth("sam2", {"join", Invite("sam", "device"), "--no-passphrase"}).exit_code, 0);
  StopChild();  // Sam's serve: from now on no node of the space runs
  EXPECT_EQ(Hearth("alex", {"relay"}).out, relay + "\n");

  // Sam writes while Alex is offline, leaves it at the relay, goes offline.
  ASSERT_EQ(Hearth("sam", {"write", "left for Alex while apart"}).exit_code, 0);
  ASSERT_EQ(Hearth("sam", {"write", "--private", "Sam's own reflection"}).exit_code, 0);
  auto put = Hearth("sam", {"sync", "--timeout", "5"});
  ASSERT_EQ(put.exit_code, 0) << put.out << put.err;
  EXPECT_NE(put.out.find("Exchanged with the mailboxes"), std::string::npos) << put.out;

  // The relay is killed (no clean shutdown) and comes back on the same address.
  StopChild(0, SIGKILL);
  ASSERT_EQ(StartRelay("relay", host_port), relay);

  // Alex comes online later and takes Sam's record from the mailbox; the
  // private entry was only ever in Sam's own mailbox.
  auto got = Hearth("alex", {"sync", "--timeout", "5"});
  ASSERT_EQ(got.exit_code, 0) << got.out << got.err;
  EXPECT_TRUE(Shows("alex", "left for Alex while apart"));
  EXPECT_FALSE(Shows("alex", "Sam's own reflection"));
  // Sam's other device gets both.
  ASSERT_EQ(Hearth("sam2", {"sync", "--timeout", "5"}).exit_code, 0);
  EXPECT_TRUE(Shows("sam2", "left for Alex while apart"));
  EXPECT_TRUE(Shows("sam2", "Sam's own reflection"));
  // And Alex's answer travels back the same way.
  ASSERT_EQ(Hearth("alex", {"appreciate", "thank you for the note"}).exit_code, 0);
  ASSERT_EQ(Hearth("alex", {"sync", "--timeout", "5"}).exit_code, 0);
  ASSERT_EQ(Hearth("sam", {"sync", "--timeout", "5"}).exit_code, 0);
  EXPECT_TRUE(Shows("sam", "thank you for the note"));
  for (const std::string home : {"sam", "sam2", "alex"}) EXPECT_EQ(Hearth(home, {"verify"}).exit_code, 0) << home;
}

TEST_F(RelayNetTest, ARecordingProxyAndTheRelaysFilesHoldNoneOfWhatThePartnersWrote) {
  const std::string relay = StartRelay("relay");
  RecordingProxy proxy(relay.substr(0, relay.find('/')));
  const std::string via_proxy = proxy.host_port() + relay.substr(relay.find('/'));
  Init("sam", "Samwise Markerton");
  Serve("sam");
  ASSERT_EQ(Hearth("alex", {"join", Invite("sam", "partner"), "--name", "Alexandra Markova", "--no-passphrase"})
                .exit_code,
            0);
  StopChild();
  const std::vector<std::string> markers = {"MARKER-TEXT-3f9a1c", "MARKER-TITLE-77b2e0", "marker-tag-5d1e4a",
                                            "MARKER-APPRECIATION-0c4d", "MARKER-PRIVATE-9e8f21",
                                            "MARKER-LIVE-a61b07", "Samwise Markerton", "Alexandra Markova"};
  ASSERT_EQ(Hearth("sam", {"write", markers[0], "--title", markers[1], "--tag", markers[2]}).exit_code, 0);
  ASSERT_EQ(Hearth("sam", {"appreciate", markers[3]}).exit_code, 0);
  ASSERT_EQ(Hearth("sam", {"write", "--private", markers[4]}).exit_code, 0);
  // Through the mailbox...
  ASSERT_EQ(Hearth("sam", {"sync", "--relay", via_proxy, "--timeout", "5"}).exit_code, 0);
  ASSERT_EQ(Hearth("alex", {"sync", "--relay", via_proxy, "--timeout", "5"}).exit_code, 0);
  ASSERT_TRUE(Shows("alex", markers[0]));
  // ...and live through a pipe.
  Serve("sam", {"--relay", via_proxy});
  Serve("alex", {"--relay", via_proxy});
  ASSERT_EQ(Hearth("sam", {"write", markers[5]}).exit_code, 0);
  ASSERT_GE(WaitFor("alex", markers[5], 10000), 0);
  StopChild();
  StopChild();

  const std::string wire = proxy.recorded();
  StopChild(0, SIGKILL);  // the relay: its files as a thief would find them
  const std::string files = FilesUnder(base_ / "relay");
  // The scans look at real data: the wire carried the records, the relay
  // stored them (SQLite's header is there in clear).
  EXPECT_GT(wire.size(), 5'000u);
  EXPECT_NE(files.find("SQLite format 3"), std::string::npos);
  for (const auto& m : markers) {
    EXPECT_EQ(wire.find(m), std::string::npos) << m << " crossed the wire readable";
    EXPECT_EQ(files.find(m), std::string::npos) << m << " is readable in the relay's files";
  }
}

TEST_F(RelayNetTest, ATamperedMailboxIsRefusedLoudlyAndChangesNothing) {
  PairPartners();
  const std::string relay = StartRelay("relay");
  const std::string host_port = relay.substr(0, relay.find('/'));
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Hearth("sam", {"write", "left in the mailbox " + std::to_string(i)}).exit_code, 0);
  ASSERT_EQ(Hearth("sam", {"sync", "--relay", relay, "--timeout", "5"}).exit_code, 0);
  StopChild();
  // Clean copies to start each case from.
  fs::copy(base_ / "relay", base_ / "relay.clean", fs::copy_options::recursive);
  fs::copy(Home("alex"), base_ / "alex.clean", fs::copy_options::recursive);
  // The stream of Sam's shared feed holds Sam's three writes at its last
  // three places, M-2, M-1 and M.
  std::string mailbox, stream;
  std::int64_t last = 0;
  {
    SQLite::Database db((base_ / "relay" / "relay.db").string());
    SQLite::Statement q(db, "SELECT mailbox, stream, MAX(seq) FROM blobs GROUP BY mailbox, stream ORDER BY COUNT(*) DESC LIMIT 1");
    ASSERT_TRUE(q.executeStep());
    mailbox = q.getColumn(0).getString();
    stream = q.getColumn(1).getString();
    last = q.getColumn(2).getInt64();
  }
  ASSERT_GE(last, 3);
  struct Case {
    std::string name;
    std::vector<std::string> sql;  // PLACE is "mailbox = .. AND stream = ..", M the last seq
    int exit_code;
    int readable;  // how many of the three writes Alex ends up with
  };
  const std::vector<Case> cases = {
      {"flip", {"UPDATE blobs SET data = substr(data, 1, 40) || CASE WHEN substr(data, 41, 1) = X'00' THEN X'01' "
                "ELSE X'00' END || substr(data, 42) WHERE PLACE AND seq = M - 1"}, 4, 1},
      {"reorder", {"UPDATE blobs SET seq = -1 WHERE PLACE AND seq = M - 1", "UPDATE blobs SET seq = M - 1 WHERE PLACE AND seq = M",
                   "UPDATE blobs SET seq = M WHERE PLACE AND seq = -1"}, 4, 1},
      {"replay", {"UPDATE blobs SET data = (SELECT data FROM blobs WHERE PLACE AND seq = M - 2) WHERE PLACE AND seq = M - 1"}, 4, 1},
      {"duplicate", {"INSERT INTO blobs (mailbox, stream, seq, stored_at, size, data) SELECT mailbox, stream, seq + 1, "
                     "stored_at, size, data FROM blobs WHERE PLACE AND seq = M"}, 4, 3},
      {"drop", {"DELETE FROM blobs WHERE PLACE AND seq = M - 1"}, 0, 1},
  };
  auto hex = [](const std::string& b) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out = "X'";
    for (unsigned char ch : b) {
      out += kHex[ch >> 4];
      out += kHex[ch & 15];
    }
    return out + "'";
  };
  const std::string place = "mailbox = " + hex(mailbox) + " AND stream = " + hex(stream);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    fs::remove_all(base_ / "relay");
    fs::remove_all(Home("alex"));
    fs::copy(base_ / "relay.clean", base_ / "relay", fs::copy_options::recursive);
    fs::copy(base_ / "alex.clean", Home("alex"), fs::copy_options::recursive);
    {
      SQLite::Database db((base_ / "relay" / "relay.db").string(), SQLite::OPEN_READWRITE);
      for (std::string sql : c.sql) {
        for (std::size_t at; (at = sql.find("PLACE")) != std::string::npos;) sql.replace(at, 5, place);
        for (std::size_t at; (at = sql.find(" M")) != std::string::npos;) sql.replace(at, 2, " " + std::to_string(last));
        ASSERT_EQ(db.exec(sql), 1) << sql;
      }
    }
    ASSERT_EQ(StartRelay("relay", host_port), relay);
    auto r = Hearth("alex", {"sync", "--relay", relay, "--timeout", "5"});
    EXPECT_EQ(r.exit_code, c.exit_code) << r.out << r.err;
    if (c.exit_code == 4) {
      EXPECT_NE(r.err.find("changed or moved"), std::string::npos) << r.err;
      EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
    } else {
      EXPECT_NE(r.out.find("no longer holds"), std::string::npos) << r.out;
    }
    int shown = 0;
    for (int i = 0; i < 3; ++i) shown += Shows("alex", "left in the mailbox " + std::to_string(i)) ? 1 : 0;
    EXPECT_EQ(shown, c.readable);
    EXPECT_EQ(Hearth("alex", {"verify"}).exit_code, 0);
    EXPECT_EQ(json::parse(Hearth("alex", {"status", "--json"}).out)["forks"].size(), 0u);
    StopChild();
  }
  // With the relay's clean files back, Alex gets everything.
  fs::remove_all(base_ / "relay");
  fs::copy(base_ / "relay.clean", base_ / "relay", fs::copy_options::recursive);
  ASSERT_EQ(StartRelay("relay", host_port), relay);
  ASSERT_EQ(Hearth("alex", {"sync", "--relay", relay, "--timeout", "5"}).exit_code, 0);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(Shows("alex", "left in the mailbox " + std::to_string(i)));
}

// A relay run in this process whose pipes tamper with what they carry: the
// operator of a relay could do exactly this.
class TamperingRelay {
 public:
  explicit TamperingRelay(std::function<Bytes(int, ByteView)> filter)
      : server_(io_, crypto::DhKey::Generate(), relay::RelayLimits{}) {
    EXPECT_TRUE(server_.Listen(relay::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)).ok());
    server_.set_pipe_filter(std::move(filter));
    server_.Start();
    address_ = relay::FormatRelayAddress({net::FormatAddress(server_.local_endpoint()), server_.public_key()});
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TamperingRelay() {
    boost::asio::post(io_, [this] { server_.Stop(); });
    thread_.join();
  }
  const std::string& address() const { return address_; }

 private:
  boost::asio::io_context io_;
  relay::Server server_;
  std::string address_;
  std::thread thread_;
};

TEST_F(RelayNetTest, ATamperingRelayPipeMakesSyncFailAndRecoverNeverAcceptingAChange) {
  ASSERT_TRUE(crypto::Init().ok());
  PairPartners();
  // Each way of tampering hits one chunk well into the session (after the
  // handshakes), then the relay behaves: sync must fail on the tampered
  // session and recover on the next one.
  const std::vector<std::string> modes = {"flip", "drop", "duplicate", "reorder", "replay"};
  for (std::size_t m = 0; m < modes.size(); ++m) {
    SCOPED_TRACE(modes[m]);
    std::atomic<int> tampered{0};
    std::mutex mu;
    std::vector<Bytes> seen;  // chunks from Sam's side, for replays
    std::optional<Bytes> held;
    TamperingRelay relay([&, mode = modes[m]](int direction, ByteView chunk) -> Bytes {
      std::lock_guard lock(mu);
      Bytes out(chunk.begin(), chunk.end());
      if (direction != 0) return out;
      seen.push_back(out);
      if (held) {  // reorder: the held chunk goes after this one
        Append(out, *held);
        held.reset();
        return out;
      }
      if (tampered > 0 || seen.size() < 6) return out;
      ++tampered;
      if (mode == "flip") out[out.size() / 2] ^= 0x10;
      if (mode == "drop") out.clear();
      if (mode == "duplicate") Append(out, chunk);
      if (mode == "reorder") {
        held = out;
        out.clear();
      }
      if (mode == "replay") Append(out, seen[seen.size() - 3]);
      return out;
    });
    Serve("sam", {"--relay", relay.address()});
    Serve("alex", {"--relay", relay.address()});
    const std::string text = "through a " + modes[m] + " relay";
    for (int i = 0; i < 6; ++i) {
      ASSERT_EQ(Hearth("sam", {"write", text + " " + std::to_string(i)}).exit_code, 0);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_GE(WaitFor("alex", text + " 5", 20000), 0) << "Alex never recovered";
    EXPECT_EQ(tampered.load(), 1) << "the relay never got to tamper";
    StopChild();
    StopChild();
  }
  // Nothing changed was accepted: every record on both nodes verifies, no
  // fork was recorded, and both hold the same items.
  for (const std::string home : {"sam", "alex"}) {
    EXPECT_EQ(Hearth(home, {"verify"}).exit_code, 0) << home;
    EXPECT_EQ(json::parse(Hearth(home, {"status", "--json"}).out)["forks"].size(), 0u) << home;
  }
  auto texts = [&](const std::string& home) {
    std::multiset<std::string> out;
    for (const auto& item : List(home)) out.insert(item["text"].get<std::string>());
    return out;
  };
  EXPECT_EQ(texts("sam"), texts("alex"));
}

}  // namespace
}  // namespace hearth::testing
