// hearth::net peers — what `hearth serve`, `sync`, `invite` and `join` do on
// the network, over the transport (net/transport.h) and the sans-IO cores
// (sync session, Noise, pairing messages).
//
// Every connection starts with one byte saying what it is for: 'S' a sync
// session (Noise XX, both statics must be roster devices), 'J' a join
// (an invite id in clear, a status byte, then Noise XXpsk3 keyed by the code).
// One io_context thread runs everything; the Node is only touched from it.
#pragma once

#include "net/transport.h"

#include <filesystem>
#include <functional>
#include <list>
#include <map>
#include <set>
#include <optional>
#include <string>
#include <vector>

#include "core/node/node.h"
#include "net/invite_code.h"
#include "net/relay/protocol.h"
#include "net/sync_session.h"

namespace hearth::net {

struct NetOptions {
  std::chrono::milliseconds handshake_timeout{10'000};
  std::chrono::milliseconds idle_timeout{90'000};   // no message at all for this long: close
  std::chrono::milliseconds ping_interval{30'000};  // an empty message keeps a quiet session open
  std::chrono::milliseconds poll_interval{20};  // how often serve looks for local writes
};

inline constexpr std::uint16_t kDefaultPort = 47475;

// LAN discovery as `serve` runs it (docs/discovery.md).
struct DiscoveryOptions {
  std::uint16_t udp_port = 47474;  // kBeaconUdpPort; tests use another
  std::chrono::milliseconds interval{2'000};
};


// How `serve` uses a relay (docs/relay-protocol.md, "A space's mailboxes").
struct RelayOptions {
  relay::RelayAddress address;
  // How often serve exchanges with its mailboxes when nothing changed here
  // (a change here is left there within about a second).
  std::chrono::milliseconds mailbox_interval{60'000};
};

// The result of `hearth sync`.
struct RoundReport {
  int reached = 0;  // handshakes completed
  int synced = 0;   // sessions that completed
  std::vector<std::string> lines;  // one per peer, for the user
  std::optional<Error> failure;    // the most serious failure seen
};

// One round with each address: connect, handshake, sync until both sides are
// caught up, close. With a relay: exchange with the space's mailboxes there,
// then sync with each device of the space present at the relay.
RoundReport SyncRound(node::Node& node, const std::vector<std::string>& addresses,
                      std::chrono::milliseconds timeout, const NetOptions& options = {},
                      const std::optional<relay::RelayAddress>& relay = std::nullopt);

// A running node: accepts sync and join connections, dials configured peers
// (and keeps redialing), pushes local writes to every open session.
class Server {
 public:
  Server(node::Node& node, asio::io_context& io, NetOptions options = {});
  ~Server();
  Status Listen(const tcp::endpoint& at);
  tcp::endpoint local_endpoint() const;
  void AddPeer(const tcp::endpoint& peer);
  // Announces this node on the LAN and connects to the devices of the space
  // it hears (call after Listen, before Start). Fails only when no beacon
  // socket could be opened at all.
  Status EnableDiscovery(DiscoveryOptions options = {});
  // Meets the space's devices at a relay (live pipes) and keeps the space's
  // mailboxes there up to date both ways (call before Start).
  void UseRelay(RelayOptions options);
  // Runs until Stop().
  void Start();
  void Stop();
  // Called after a join through this server completes (foreground invite).
  std::function<void(const node::Node::InviteId&)> on_join;
  // Called when a join fails after the handshake began (for messages).
  std::function<void(const std::string&)> on_join_error;
  // Called with one line for the user when the relay link changes or fails.
  std::function<void(const std::string&)> on_relay_note;
  // Called with one line for the user when a session ends because this
  // node could not store what it received (disk full, I/O error): the
  // peer only sees the connection close, so the user must hear it here.
  // The same line twice in a row is reported once.
  std::function<void(const std::string&)> on_storage_failure;

 private:
  struct Conn;
  awaitable<void> AcceptLoop();
  awaitable<void> PollLoop();
  awaitable<void> DialLoop(tcp::endpoint peer);
  awaitable<void> HandleIncoming(tcp::socket socket);
  awaitable<void> ServeJoin(tcp::socket socket);
  awaitable<Status> RunConn(std::shared_ptr<Conn> conn);
  void StorageNote(const Conn& conn, const Status& ended);
  awaitable<Status> Flush(Conn& conn);
  awaitable<std::shared_ptr<Conn>> Dial(tcp::endpoint peer);
  awaitable<void> DialOnce(tcp::endpoint peer);
  awaitable<void> BeaconSendLoop();
  awaitable<void> BeaconReceiveLoop(asio::ip::udp::socket& socket);
  void OnBeacon(ByteView datagram, const asio::ip::udp::endpoint& from);
  void JoinGroups();
  bool ConnectedTo(node::ItemId device) const;
  bool KnownConnected(const tcp::endpoint& peer) const;
  void NoteAll();
  awaitable<void> RelayPresenceLoop();
  awaitable<void> RelayPipe(bool connect, std::uint64_t id);
  awaitable<void> MailboxLoop();
  void RelayNote(const std::string& line);
  void MailboxChanged();

  node::Node& node_;
  asio::io_context& io_;
  NetOptions options_;
  tcp::acceptor acceptor_;
  std::list<std::shared_ptr<Conn>> conns_;
  std::vector<tcp::endpoint> peers_;
  // Devices reached at an address by dialing it: a redial (from --peer or a
  // beacon) is skipped while that device is connected anyway.
  std::map<tcp::endpoint, node::ItemId> reached_;
  std::set<tcp::endpoint> dialing_;
  struct Discovery;
  std::unique_ptr<Discovery> discovery_;
  struct Relay;
  std::unique_ptr<Relay> relay_;
  bool stopping_ = false;
  std::int64_t data_version_ = -1;
  std::uint64_t polls_ = 0;
  std::string last_storage_note_;  // reported once until a session completes again
};

// `hearth invite`: files an invite and returns its code.
Result<InviteCode> CreateInvite(node::Node& node, bool own_device, std::chrono::seconds ttl,
                                std::vector<Endpoint> endpoints);

// This machine's addresses worth putting in a code: non-loopback IPv4 first,
// then loopback, each with `port`.
std::vector<Endpoint> LocalEndpoints(std::uint16_t port);

// `hearth join`: pairs with the inviter, creates the home, syncs once.
struct JoinOptions {
  std::string member_name;  // partners: how the other sees them
  std::string device_name;
  std::optional<crypto::SecretBytes> passphrase;
};
Result<std::unique_ptr<node::Node>> Join(const std::filesystem::path& home, const InviteCode& code,
                                         JoinOptions options, Clock& clock, const NetOptions& net = {});

}  // namespace hearth::net
