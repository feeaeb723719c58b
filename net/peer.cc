#include "net/peer.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <cstring>
#include <deque>

#include "net/beacon.h"
#include "net/pairing.h"
#include "net/relay/client.h"
#include "net/relay_link.h"

namespace hearth::net {

static_assert(kMaxSyncMessage <= kMaxAppMessage, "a sync batch must fit in one transport message");

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::uint8_t kSyncConn = 'S';
constexpr std::uint8_t kJoinConn = 'J';
constexpr std::string_view kSyncPrologue = "hearth/sync/v1";
constexpr std::string_view kPairPrologue = "hearth/pair/v1";

crypto::SymmetricKey InvitePsk(ByteView secret) {
  const crypto::Digest d = crypto::Hash({AsBytes("hearth/invite-psk/v1"), secret});
  return *crypto::SymmetricKey::FromBytes(d);
}

awaitable<Status> WriteByte(tcp::socket& s, std::uint8_t b) {
  auto [ec, n] = co_await asio::async_write(s, asio::buffer(&b, 1), kTuple);
  if (ec) co_return MakeError(Errc::kNetwork, "The connection to the peer was lost.");
  co_return Status{};
}

awaitable<Result<std::uint8_t>> ReadByte(tcp::socket& s) {
  std::uint8_t b = 0;
  auto [ec, n] = co_await asio::async_read(s, asio::buffer(&b, 1), kTuple);
  if (ec) co_return MakeError(Errc::kNetwork, "The connection to the peer was lost.");
  co_return b;
}

awaitable<Result<tcp::socket>> Connect(asio::any_io_executor ex, tcp::endpoint ep, std::chrono::milliseconds timeout) {
  tcp::socket s(ex);
  Watchdog dog(s, timeout);
  auto [ec] = co_await s.async_connect(ep, kTuple);
  if (ec || dog.fired()) {
    co_return MakeError(Errc::kNetwork, "Could not reach " + FormatAddress(ep) + ".");
  }
  co_return std::move(s);
}

// The sync handshake on a fresh socket, and the roster check of the peer.
awaitable<Result<std::pair<SecureChannel, node::RosterDevice>>> SyncHandshake(node::Node& node, tcp::socket s,
                                                                               bool initiator,
                                                                               const NetOptions& opt) {
  noise::HandshakeConfig cfg{noise::Pattern::kXX, initiator ? noise::Role::kInitiator : noise::Role::kResponder,
                             &node.dh_key(), std::nullopt, Bytes(kSyncPrologue.begin(), kSyncPrologue.end()),
                             std::nullopt};
  auto ch = co_await Handshake(std::move(s), std::move(cfg), {}, nullptr, opt.handshake_timeout);
  if (!ch.ok()) co_return ch.error();
  auto peer = node.DeviceByDhKey(ch->remote_static());
  if (!peer) {
    co_return MakeError(Errc::kAuth, "The peer is not a device of this space; the connection was refused.");
  }
  co_return std::make_pair(std::move(*ch), *peer);
}

// A pipe to another device of the space through the relay, ready for the
// sync handshake: the connecting side (the one told of the other) has
// written the 'S' byte, the accepting side has read it.
awaitable<Result<tcp::socket>> RelayPipeSocket(const relay::RelayAddress& at, node::Node& node, bool connect,
                                               std::uint64_t id, const NetOptions& opt) {
  auto conn = co_await relay::Connection::Dial(at, opt.handshake_timeout);
  if (!conn.ok()) co_return conn.error();
  auto mailbox = co_await conn->Open(node.SharedMailbox().open);
  if (!mailbox.ok()) co_return mailbox.error();
  // (Not a conditional expression: g++ 12 mishandles co_await inside one.)
  Result<tcp::socket> socket = MakeError(Errc::kNetwork, "");
  if (connect) {
    socket = co_await conn->ConnectPipe(*mailbox, id);
  } else {
    socket = co_await conn->AcceptPipe(*mailbox, id);
  }
  if (!socket.ok()) co_return socket.error();
  if (connect) {
    HEARTH_CO_TRY(co_await WriteByte(*socket, kSyncConn));
  } else {
    Watchdog dog(*socket, opt.handshake_timeout);
    auto kind = co_await ReadByte(*socket);
    if (!kind.ok()) co_return kind.error();
    if (*kind != kSyncConn) co_return MakeError(Errc::kInvalidInput, "The device at the relay is not syncing.");
  }
  co_return socket;
}

}  // namespace

// ---- one round (hearth sync) ----

namespace {

// Runs one session to completion over an established channel.
awaitable<Status> RunToCompletion(SecureChannel& ch, SyncSession& session, const NetOptions& opt) {
  Watchdog dog(ch.socket(), opt.idle_timeout);
  HEARTH_CO_TRY(session.Start());
  while (true) {
    while (session.HasOutgoing()) {
      Bytes m = std::move(session.outbox().front());
      session.outbox().pop_front();
      HEARTH_CO_TRY(co_await ch.Send(m));
    }
    if (session.Complete()) co_return Status{};
    auto msg = co_await ch.Receive();
    if (!msg.ok()) co_return msg.error();
    dog.Rearm();
    HEARTH_CO_TRY(session.Receive(*msg));
  }
}

int Severity(Errc c) { return c == Errc::kAuth || c == Errc::kIntegrity ? 2 : c == Errc::kNetwork ? 0 : 1; }

}  // namespace

RoundReport SyncRound(node::Node& node, const std::vector<std::string>& addresses,
                      std::chrono::milliseconds timeout, const NetOptions& options,
                      const std::optional<relay::RelayAddress>& relay) {
  RoundReport report;
  asio::io_context io;
  auto note_failure = [&](const Error& e) {
    if (!report.failure || Severity(e.code) > Severity(report.failure->code)) report.failure = e;
  };
  for (const std::string& text : addresses) {
    auto ep = ParseAddress(text);
    if (!ep.ok()) {
      note_failure(ep.error());
      report.lines.push_back(ep.error().message);
      continue;
    }
    asio::co_spawn(
        io,
        [&, ep = *ep]() -> awaitable<void> {
          auto sock = co_await Connect(io.get_executor(), ep, options.handshake_timeout);
          if (!sock.ok()) {
            note_failure(sock.error());
            report.lines.push_back(sock.error().message);
            co_return;
          }
          if (Status s = co_await WriteByte(*sock, kSyncConn); !s.ok()) {
            note_failure(s.error());
            co_return;
          }
          auto hs = co_await SyncHandshake(node, std::move(*sock), true, options);
          if (!hs.ok()) {
            note_failure(hs.error());
            report.lines.push_back(FormatAddress(ep) + ": " + hs.error().message);
            co_return;
          }
          ++report.reached;
          auto& [ch, peer] = *hs;
          SyncSession session(node, peer);
          Watchdog limit(ch.socket(), timeout);
          Status s = co_await RunToCompletion(ch, session, options);
          const auto lacks = session.PeerLacks();
          (void)node.NotePeer({peer.id, false, node.NowMs(), FormatAddress(ep), lacks.ok() ? *lacks : 0});
          if (!s.ok()) {
            note_failure(limit.fired() ? MakeError(Errc::kNetwork, "Sync with " + FormatAddress(ep) + " timed out.")
                                       : s.error());
            report.lines.push_back(FormatAddress(ep) + ": " + s.error().message);
            co_return;
          }
          ++report.synced;
          report.lines.push_back("Synced with " + peer.name + " at " + FormatAddress(ep) + ": received " +
                                 std::to_string(session.stats().records_received) + ", sent " +
                                 std::to_string(session.stats().records_sent) + " records (" +
                                 std::to_string(ch.bytes_in()) + " bytes in, " + std::to_string(ch.bytes_out()) +
                                 " bytes out after the handshake).");
        },
        asio::detached);
  }
  if (relay) {
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
          const std::string where = "the relay at " + relay->host_port;
          auto conn = co_await relay::Connection::Dial(*relay, options.handshake_timeout);
          if (!conn.ok()) {
            note_failure(conn.error());
            report.lines.push_back(conn.error().message);
            co_return;
          }
          ++report.reached;
          std::uint64_t put = 0, fetched = 0;
          for (const node::MailboxKeys& keys : {node.SharedMailbox(), node.MemberMailbox()}) {
            MailboxReport m = co_await ExchangeMailbox(node, *conn, keys);
            put += m.put;
            fetched += m.fetched;
            for (const auto& line : m.notes) report.lines.push_back(line);
            if (m.failure) {
              note_failure(*m.failure);
              report.lines.push_back("Mailbox at " + where + ": " + m.failure->message);
              co_return;
            }
          }
          ++report.synced;
          report.lines.push_back("Exchanged with the mailboxes at " + where + ": left " + std::to_string(put) +
                                 ", fetched " + std::to_string(fetched) + " records.");
          // The space's devices present at the relay are told of this one
          // and open a pipe to it: sync with each, as with a direct peer.
          auto mailbox = co_await conn->Open(node.SharedMailbox().open);
          Result<std::uint32_t> present = MakeError(Errc::kNetwork, "");
          if (mailbox.ok()) {
            present = co_await conn->Listen(*mailbox);
          } else {
            present = mailbox.error();
          }
          if (!present.ok()) {
            report.lines.push_back("Live sync at " + where + ": " + present.error().message);
            co_return;
          }
          Watchdog wait(conn->channel().socket(), timeout);
          for (std::uint32_t i = 0; i < *present; ++i) {
            auto event = co_await conn->NextEvent();
            if (!event.ok() || event->kind != relay::RelayEvent::Kind::kIncoming) break;
            // `where` by value: this coroutine outlives the one that spawns it.
            asio::co_spawn(
                io,
                [&, where, pipe = event->id]() -> awaitable<void> {
                  auto sock = co_await RelayPipeSocket(*relay, node, false, pipe, options);
                  if (!sock.ok()) co_return;
                  auto hs = co_await SyncHandshake(node, std::move(*sock), false, options);
                  if (!hs.ok()) {
                    note_failure(hs.error());
                    report.lines.push_back("Via " + where + ": " + hs.error().message);
                    co_return;
                  }
                  auto& [ch, peer] = *hs;
                  SyncSession session(node, peer);
                  Watchdog limit(ch.socket(), timeout);
                  Status st = co_await RunToCompletion(ch, session, options);
                  const auto lacks = session.PeerLacks();
                  (void)node.NotePeer({peer.id, false, node.NowMs(), std::string(), lacks.ok() ? *lacks : 0});
                  if (!st.ok()) {
                    note_failure(st.error());
                    report.lines.push_back(peer.name + " via " + where + ": " + st.error().message);
                    co_return;
                  }
                  ++report.synced;
                  report.lines.push_back("Synced with " + peer.name + " via " + where + ": received " +
                                         std::to_string(session.stats().records_received) + ", sent " +
                                         std::to_string(session.stats().records_sent) + " records.");
                },
                asio::detached);
          }
          boost::system::error_code ec;
          conn->channel().socket().close(ec);
        },
        asio::detached);
  }
  io.run();
  return report;
}

// ---- the server ----

struct Server::Conn {
  Conn(SecureChannel c, node::Node& n, node::RosterDevice p, std::string a, bool i)
      : ch(std::move(c)), session(n, std::move(p)), address(std::move(a)), initiator(i),
        write_done(ch.socket().get_executor()) {}
  SecureChannel ch;
  SyncSession session;
  std::string address;
  bool initiator;           // this node dialed
  // One writer at a time (Flush or the keep-alive ping) holds the socket.
  bool writing = false;
  // The reader waits on it while another writer drains the outbox.
  asio::steady_timer write_done;
  void EndWrite() {
    writing = false;
    write_done.cancel();
  }
  // When the last message (a ping counts) came from the peer.
  std::chrono::steady_clock::time_point last_heard = std::chrono::steady_clock::now();
  bool closed = false;
  bool superseded = false;  // closed because another session with the same device is kept
  std::optional<std::uint64_t> noted_lack;
};

using asio::ip::udp;

struct Server::Discovery {
  Discovery(asio::io_context& io, crypto::SymmetricKey k, DiscoveryOptions o)
      : key(std::move(k)), options(o), v4(io), v6(io), send4(io), send6(io) {}
  crypto::SymmetricKey key;
  DiscoveryOptions options;
  udp::socket v4, v6;        // receivers, bound to the beacon port
  udp::socket send4, send6;  // senders, on an ephemeral port
  bool announce_v4 = false, announce_v6 = false;
  std::optional<asio::ip::address_v4> only_v4;  // listening on one IPv4 address only
  std::vector<asio::ip::address_v4> out_v4;     // interfaces to send on
  std::vector<unsigned> out_v6;
  std::set<std::string> joined;                 // group memberships made
  std::deque<Bytes> sent;                       // our recent beacons (they loop back)
  std::deque<Bytes> heard;                      // beacons recently acted on
  std::map<tcp::endpoint, std::chrono::steady_clock::time_point> last_dial;
};

struct Server::Relay {
  Relay(asio::io_context& io, RelayOptions o) : options(std::move(o)), wake(io) {}
  RelayOptions options;
  asio::steady_timer wake;  // the mailbox loop sleeps on it; news cancels it
  bool dirty = true;        // this device may hold records the mailboxes lack
  std::shared_ptr<relay::Connection> presence;  // the listening connection, while open
  bool relisten = false;    // the presence connection was closed on purpose
  std::string last_note;
};

Server::Server(node::Node& node, asio::io_context& io, NetOptions options)
    : node_(node), io_(io), options_(options), acceptor_(io) {}

Status Server::Listen(const tcp::endpoint& at) { return ListenOn(acceptor_, at); }

tcp::endpoint Server::local_endpoint() const {
  boost::system::error_code ec;
  return acceptor_.local_endpoint(ec);
}

void Server::AddPeer(const tcp::endpoint& peer) { peers_.push_back(peer); }

void Server::Start() {
  if (acceptor_.is_open()) asio::co_spawn(io_, AcceptLoop(), asio::detached);
  if (discovery_) {
    asio::co_spawn(io_, BeaconSendLoop(), asio::detached);
    if (discovery_->v4.is_open()) asio::co_spawn(io_, BeaconReceiveLoop(discovery_->v4), asio::detached);
    if (discovery_->v6.is_open()) asio::co_spawn(io_, BeaconReceiveLoop(discovery_->v6), asio::detached);
  }
  asio::co_spawn(io_, PollLoop(), asio::detached);
  for (const auto& p : peers_) asio::co_spawn(io_, DialLoop(p), asio::detached);
  if (relay_) {
    asio::co_spawn(io_, RelayPresenceLoop(), asio::detached);
    asio::co_spawn(io_, MailboxLoop(), asio::detached);
  }
}

void Server::Stop() {
  stopping_ = true;
  boost::system::error_code ec;
  acceptor_.close(ec);
  if (discovery_) {
    discovery_->v4.close(ec);
    discovery_->v6.close(ec);
    discovery_->send4.close(ec);
    discovery_->send6.close(ec);
  }
  for (auto& c : conns_) c->ch.socket().close(ec);
  if (relay_) {
    relay_->wake.cancel();
    if (relay_->presence) relay_->presence->channel().socket().close(ec);
  }
  io_.stop();
}

awaitable<void> Server::AcceptLoop() {
  while (!stopping_) {
    auto [ec, socket] = co_await acceptor_.async_accept(kTuple);
    if (ec) {
      if (stopping_ || ec == asio::error::operation_aborted) co_return;
      // Out of descriptors, say: the connection stays queued and accepting
      // again at once would fail at once, a busy loop. Pause instead.
      asio::steady_timer pause(io_);
      pause.expires_after(std::chrono::milliseconds(100));
      co_await pause.async_wait(kTuple);
      continue;
    }
    asio::co_spawn(io_, HandleIncoming(std::move(socket)), asio::detached);
  }
}

awaitable<void> Server::HandleIncoming(tcp::socket socket) {
  std::uint8_t kind = 0;
  {
    Watchdog dog(socket, options_.handshake_timeout);
    auto b = co_await ReadByte(socket);
    if (!b.ok()) co_return;
    kind = *b;
  }
  if (kind == kJoinConn) {
    co_await ServeJoin(std::move(socket));
    co_return;
  }
  if (kind != kSyncConn) co_return;  // not Hearth: close
  auto hs = co_await SyncHandshake(node_, std::move(socket), false, options_);
  if (!hs.ok()) co_return;
  // Its source port is not where it listens: the note keeps the address it
  // was last reached at instead.
  auto conn = std::make_shared<Conn>(std::move(hs->first), node_, hs->second, std::string(), false);
  // How a serve session ended is kept in the peer notes (status shows it);
  // nothing more to do with it here.
  (void)(co_await RunConn(conn));
}

bool Server::ConnectedTo(node::ItemId device) const {
  for (const auto& c : conns_) {
    if (!c->closed && c->session.peer().id == device) return true;
  }
  return false;
}

bool Server::KnownConnected(const tcp::endpoint& peer) const {
  const auto it = reached_.find(peer);
  return it != reached_.end() && ConnectedTo(it->second);
}

awaitable<std::shared_ptr<Server::Conn>> Server::Dial(tcp::endpoint peer) {
  auto sock = co_await Connect(io_.get_executor(), peer, options_.handshake_timeout);
  if (!sock.ok() || stopping_ || !(co_await WriteByte(*sock, kSyncConn)).ok()) co_return nullptr;
  auto hs = co_await SyncHandshake(node_, std::move(*sock), true, options_);
  if (!hs.ok() || stopping_) co_return nullptr;
  reached_[peer] = hs->second.id;
  co_return std::make_shared<Conn>(std::move(hs->first), node_, hs->second, FormatAddress(peer), true);
}

awaitable<void> Server::DialLoop(tcp::endpoint peer) {
  asio::steady_timer wait(io_);
  while (!stopping_) {
    if (!KnownConnected(peer)) {
      if (auto conn = co_await Dial(peer)) (void)(co_await RunConn(conn));
    }
    if (stopping_) co_return;
    wait.expires_after(std::chrono::seconds(2));
    co_await wait.async_wait(kTuple);
  }
}

awaitable<void> Server::DialOnce(tcp::endpoint peer) {
  dialing_.insert(peer);
  auto conn = co_await Dial(peer);
  dialing_.erase(peer);
  if (conn) (void)(co_await RunConn(conn));
}

awaitable<Status> Server::Flush(Conn& c) {
  if (c.writing) co_return Status{};  // the writer already running picks these up
  c.writing = true;
  Status result;
  while (!c.closed && c.session.HasOutgoing()) {
    Bytes m = std::move(c.session.outbox().front());
    c.session.outbox().pop_front();
    result = co_await c.ch.Send(m);
    if (!result.ok()) break;
  }
  c.EndWrite();
  co_return result;
}

awaitable<Status> Server::RunConn(std::shared_ptr<Conn> conn) {
  // Two devices that dial each other at once (both heard the other's beacon,
  // or both were given the other with --peer) end up with two sessions. Both
  // sides keep the one dialed by the device with the smaller static key and
  // close the other, so they agree without a word exchanged.
  // A session that has heard nothing for one and a half ping intervals is
  // gone (a live peer pings every interval): a new session with the same
  // device replaces it, instead of waiting for the idle timeout.
  const node::ItemId peer_id = conn->session.peer().id;
  const auto now = std::chrono::steady_clock::now();
  const auto gone_after = options_.ping_interval + options_.ping_interval / 2;
  const auto& mine = node_.dh_key().public_key();
  const auto& theirs = conn->session.peer().dh_key;
  const bool i_am_smaller = std::lexicographical_compare(mine.begin(), mine.end(), theirs.begin(), theirs.end());
  auto preferred = [&](const Conn& c) { return c.initiator == i_am_smaller; };
  for (auto& other : conns_) {
    if (other->closed || other->session.peer().id != peer_id) continue;
    boost::system::error_code ec;
    if ((preferred(*conn) && !preferred(*other)) || now - other->last_heard > gone_after) {
      other->superseded = true;
      other->closed = true;
      other->ch.socket().close(ec);
    } else {
      conn->ch.socket().close(ec);
      co_return MakeError(Errc::kNetwork, "Already in session with this device.");
    }
  }
  conns_.push_back(conn);
  (void)node_.NotePeer({conn->session.peer().id, true, node_.NowMs(), conn->address, 0});
  Status status;
  {
    Watchdog idle(conn->ch.socket(), options_.idle_timeout);
    asio::steady_timer ping(io_);
    bool was_complete = false;
    // Keeps a quiet session alive: an empty message every ping_interval.
    asio::co_spawn(
        io_,
        [conn, &ping, this]() -> awaitable<void> {
          while (!conn->closed) {
            ping.expires_after(options_.ping_interval);
            auto [ec] = co_await ping.async_wait(kTuple);
            if (ec || conn->closed) co_return;
            if (!conn->writing) {
              // The ping is a writer too: a Flush that starts meanwhile must
              // not write into the same socket while the ping is suspended
              // (their frames would interleave), so it leaves what it finds
              // queued to the ping, which sends it next.
              conn->writing = true;
              Bytes empty;
              const Status sent = co_await conn->ch.Send(empty);
              conn->EndWrite();
              if (!sent.ok()) co_return;
              if (conn->session.HasOutgoing() && !(co_await Flush(*conn)).ok()) co_return;
            }
          }
        },
        asio::detached);
    status = conn->session.Start();
    if (status.ok()) status = co_await Flush(*conn);
    while (status.ok()) {
      auto msg = co_await conn->ch.Receive();
      if (!msg.ok()) {
        status = msg.error();
        break;
      }
      idle.Rearm();
      conn->last_heard = std::chrono::steady_clock::now();
      if (msg->empty()) continue;  // a ping
      status = conn->session.Receive(*msg);
      if (!status.ok()) break;
      status = co_await Flush(*conn);
      // Backpressure: while another writer (a push after a local change)
      // still drains this session's outbox, read nothing more from the
      // peer. Otherwise a peer that keeps asking without reading makes the
      // outbox, and serve's memory, grow by a batch per request.
      while (status.ok() && conn->writing && !conn->closed) {
        conn->write_done.expires_at(asio::steady_timer::time_point::max());
        co_await conn->write_done.async_wait(kTuple);
      }
      // Records applied here are news for every other peer.
      for (auto& other : conns_) {
        if (other == conn || other->closed) continue;
        if (other->session.LocalChanged().ok()) asio::co_spawn(io_, Flush(*other), asio::detached);
      }
      if (conn->session.Complete() && !was_complete) {
        was_complete = true;
        const auto lacks = conn->session.PeerLacks();
        (void)node_.NotePeer({conn->session.peer().id, true, node_.NowMs(), conn->address, lacks.ok() ? *lacks : 0});
      }
    }
    conn->closed = true;
    ping.cancel();
  }
  conns_.remove(conn);
  StorageNote(*conn, status);
  if (!conn->superseded && !ConnectedTo(peer_id)) {
    const auto lacks = conn->session.PeerLacks();
    (void)node_.NotePeer({peer_id, false, node_.NowMs(), conn->address, lacks.ok() ? *lacks : 0});
  }
  co_return status;
}

void Server::StorageNote(const Conn& conn, const Status& ended) {
  if (ended.ok() || ended.error().code != Errc::kStorage) {
    if (conn.session.Complete()) last_storage_note_.clear();  // stored again: a later failure is news
    return;
  }
  std::string line = "Sync with " + conn.session.peer().name + " stopped: " + ended.error().message;
  if (line == last_storage_note_) return;
  last_storage_note_ = line;
  if (on_storage_failure) on_storage_failure(line);
}

awaitable<void> Server::PollLoop() {
  asio::steady_timer t(io_);
  while (!stopping_) {
    auto v = node_.DataVersion();
    if (v.ok() && *v != data_version_) {
      const bool first = data_version_ < 0;
      data_version_ = *v;
      if (relay_) MailboxChanged();
      if (!first) {
        for (auto& c : conns_) {
          if (!c->closed && c->session.LocalChanged().ok()) asio::co_spawn(io_, Flush(*c), asio::detached);
        }
      }
    }
    if (++polls_ % 50 == 0) NoteAll();  // about once a second: what each peer still lacks
    t.expires_after(options_.poll_interval);
    co_await t.async_wait(kTuple);
  }
}

// ---- the relay (docs/relay-protocol.md) ----


void Server::UseRelay(RelayOptions options) { relay_ = std::make_unique<Relay>(io_, std::move(options)); }

void Server::RelayNote(const std::string& line) {
  if (!relay_ || line == relay_->last_note) return;
  relay_->last_note = line;
  if (on_relay_note) on_relay_note(line);
}

void Server::MailboxChanged() {
  relay_->dirty = true;
  relay_->wake.cancel();
}

awaitable<void> Server::RelayPresenceLoop() {
  Relay& r = *relay_;
  const std::string where = r.options.address.host_port;
  asio::steady_timer wait(io_);
  std::chrono::milliseconds backoff(1000);
  while (!stopping_) {
    Status status;
    auto dialed = co_await relay::Connection::Dial(r.options.address, options_.handshake_timeout);
    if (!dialed.ok()) {
      status = dialed.error();
    } else {
      auto conn = std::make_shared<relay::Connection>(std::move(*dialed));
      auto id = co_await conn->Open(node_.SharedMailbox().open);
      Result<std::uint32_t> present = MakeError(Errc::kNetwork, "");
      if (id.ok()) {
        present = co_await conn->Listen(*id);
      } else {
        present = id.error();
      }
      if (!present.ok()) {
        status = present.error();
      } else {
        r.presence = conn;
        backoff = std::chrono::milliseconds(1000);
        RelayNote("Connected to the relay at " + where + ".");
        // Keeps the quiet connection open at the relay. The pinger shares
        // the timer and the connection: it may still be inside a Ping when
        // this loop moves on, and stops once the socket is closed.
        auto ping = std::make_shared<asio::steady_timer>(io_);
        asio::co_spawn(
            io_,
            [conn, ping, this]() -> awaitable<void> {
              while (!stopping_ && conn->channel().socket().is_open()) {
                ping->expires_after(options_.ping_interval);
                auto [ec] = co_await ping->async_wait(kTuple);
                if (ec || !conn->channel().socket().is_open() || !(co_await conn->Ping()).ok()) co_return;
              }
            },
            asio::detached);
        while (!stopping_) {
          auto event = co_await conn->NextEvent();
          if (!event.ok()) {
            status = event.error();
            break;
          }
          if (event->kind == relay::RelayEvent::Kind::kPeer) {
            asio::co_spawn(io_, RelayPipe(true, event->id), asio::detached);
          } else if (event->kind == relay::RelayEvent::Kind::kIncoming) {
            asio::co_spawn(io_, RelayPipe(false, event->id), asio::detached);
          } else {
            status = relay::RelayFailure(*event);
            break;
          }
        }
        boost::system::error_code ec;
        conn->channel().socket().close(ec);
        ping->cancel();
        r.presence.reset();
      }
    }
    if (stopping_) co_return;
    if (r.relisten) {
      // Closed on purpose, to be announced again: come back at once.
      r.relisten = false;
      wait.expires_after(std::chrono::milliseconds(100));
    } else {
      RelayNote("The relay at " + where + " is not reachable (" + (status.ok() ? "closed" : status.error().message) +
                "); trying again.");
      wait.expires_after(backoff);
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(30));
    }
    co_await wait.async_wait(kTuple);
  }
}

awaitable<void> Server::RelayPipe(bool connect, std::uint64_t id) {
  Relay& r = *relay_;
  // From here on the pipe is a connection to the other device, as if direct:
  // the side that was told of the other dials.
  auto socket = co_await RelayPipeSocket(r.options.address, node_, connect, id, options_);
  if (!socket.ok() || stopping_) co_return;
  auto hs = co_await SyncHandshake(node_, std::move(*socket), connect, options_);
  if (!hs.ok()) {
    if (hs.error().code == Errc::kAuth) RelayNote("A device at the relay was refused: " + hs.error().message);
    co_return;
  }
  const node::ItemId peer = hs->second.id;
  auto session = std::make_shared<Conn>(std::move(hs->first), node_, hs->second, std::string(), connect);
  (void)(co_await RunConn(session));
  // The pipe ended while the other device may still be at the relay (its
  // pipe broke, or it restarted): being announced again makes it dial anew.
  if (!stopping_ && !ConnectedTo(peer) && r.presence) {
    r.relisten = true;
    boost::system::error_code ec;
    r.presence->channel().socket().close(ec);
  }
}

awaitable<void> Server::MailboxLoop() {
  Relay& r = *relay_;
  asio::steady_timer settle(io_);
  while (!stopping_) {
    if (!r.dirty) {
      r.wake.expires_after(r.options.mailbox_interval);
      co_await r.wake.async_wait(kTuple);
      if (stopping_) co_return;
    }
    // Let a burst of writes end before leaving it in the mailbox.
    settle.expires_after(std::chrono::milliseconds(200));
    co_await settle.async_wait(kTuple);
    r.dirty = false;
    auto conn = co_await relay::Connection::Dial(r.options.address, options_.handshake_timeout);
    if (!conn.ok()) {
      r.dirty = true;  // try again at the next interval
      r.wake.expires_after(r.options.mailbox_interval);
      co_await r.wake.async_wait(kTuple);
      continue;
    }
    for (const node::MailboxKeys& keys : {node_.SharedMailbox(), node_.MemberMailbox()}) {
      MailboxReport report = co_await ExchangeMailbox(node_, *conn, keys);
      for (const auto& note : report.notes) RelayNote(note);
      if (report.failure) {
        RelayNote((keys.member ? "Your own mailbox" : "The shared mailbox") + std::string(" at the relay: ") +
                  report.failure->message);
        if (report.failure->code == Errc::kNetwork) r.dirty = true;
        break;
      }
      // Records fetched here are news for the devices in session.
      if (report.fetched > 0) {
        for (auto& c : conns_) {
          if (!c->closed && c->session.LocalChanged().ok()) asio::co_spawn(io_, Flush(*c), asio::detached);
        }
      }
    }
    boost::system::error_code ec;
    conn->channel().socket().close(ec);
  }
}

void Server::NoteAll() {
  for (auto& c : conns_) {
    if (c->closed) continue;
    auto lacks = c->session.PeerLacks();
    if (!lacks.ok() || (c->noted_lack && *c->noted_lack == *lacks)) continue;
    c->noted_lack = *lacks;
    (void)node_.NotePeer({c->session.peer().id, true, node_.NowMs(), c->address, *lacks});
  }
}

// ---- LAN discovery (docs/discovery.md) ----


namespace {

constexpr std::size_t kMaxDiscoveryDials = 16;  // discovery dials in flight
constexpr std::size_t kRememberBeacons = 32;

bool Contains(const std::deque<Bytes>& list, ByteView b) {
  for (const auto& x : list) {
    if (x.size() == b.size() && std::equal(x.begin(), x.end(), b.begin())) return true;
  }
  return false;
}

}  // namespace

Status Server::EnableDiscovery(DiscoveryOptions options) {
  auto d = std::make_unique<Discovery>(io_, node_.DiscoveryKey(), options);
  const tcp::endpoint at = local_endpoint();
  const auto listen = at.address();
  if (listen.is_v4()) {
    d->announce_v4 = true;
    if (!listen.is_unspecified()) d->only_v4 = listen.to_v4();
  } else if (listen.is_unspecified()) {  // [::] takes IPv4 too
    d->announce_v4 = d->announce_v6 = true;
  } else {
    d->announce_v6 = true;
  }
  boost::system::error_code ec, first_error;
  auto open = [&](udp::socket& s, udp::endpoint bind_to, bool v6only) {
    ec.clear();
    s.open(bind_to.protocol(), ec);
    if (!ec && v6only) s.set_option(asio::ip::v6_only(true), ec);
    // Several nodes on one machine share the port; each gets every datagram.
    if (!ec) s.set_option(udp::socket::reuse_address(true), ec);
    if (!ec) s.bind(bind_to, ec);
    if (ec) {
      if (!first_error) first_error = ec;
      boost::system::error_code ignored;
      s.close(ignored);
    }
  };
  open(d->v4, udp::endpoint(asio::ip::address_v4::any(), options.udp_port), false);
  open(d->v6, udp::endpoint(asio::ip::address_v6::any(), options.udp_port), true);
  if (!d->v4.is_open() && !d->v6.is_open()) {
    return MakeError(Errc::kNetwork, "LAN discovery could not use UDP port " + std::to_string(options.udp_port) +
                                         ": " + first_error.message() + " (use --no-discovery).");
  }
  auto sender = [&](udp::socket& s, udp u) {
    s.open(u, ec);
    if (ec) return;
    s.set_option(asio::ip::multicast::hops(1), ec);  // never past the first router
    s.set_option(asio::ip::multicast::enable_loopback(true), ec);  // nodes on this machine hear it
  };
  if (d->announce_v4) sender(d->send4, udp::v4());
  if (d->announce_v6) sender(d->send6, udp::v6());
  discovery_ = std::move(d);
  JoinGroups();
  return {};
}

// Joins the beacon groups on every interface that is up, and lists the ones
// to announce on. Run again from time to time: interfaces come and go.
void Server::JoinGroups() {
  Discovery& d = *discovery_;
  d.out_v4.clear();
  d.out_v6.clear();
  const auto group4 = asio::ip::make_address_v4(kBeaconGroupV4);
  const auto group6 = asio::ip::make_address_v6(kBeaconGroupV6);
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return;
  for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || !(i->ifa_flags & IFF_UP)) continue;
    const bool loopback = (i->ifa_flags & IFF_LOOPBACK) != 0;
    boost::system::error_code ec;
    if (i->ifa_addr->sa_family == AF_INET && ((i->ifa_flags & IFF_MULTICAST) || loopback)) {
      asio::ip::address_v4::bytes_type b;
      std::memcpy(b.data(), &reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr, 4);
      const asio::ip::address_v4 addr(b);
      if (d.v4.is_open() && d.joined.insert("4/" + addr.to_string()).second) {
        d.v4.set_option(asio::ip::multicast::join_group(group4, addr), ec);
      }
      if (d.announce_v4 && (!d.only_v4 || *d.only_v4 == addr) && d.out_v4.size() < 16) d.out_v4.push_back(addr);
    } else if (i->ifa_addr->sa_family == AF_INET6 && (i->ifa_flags & IFF_MULTICAST)) {
      const unsigned index = ::if_nametoindex(i->ifa_name);
      if (index == 0) continue;
      if (d.v6.is_open() && d.joined.insert("6/" + std::to_string(index)).second) {
        d.v6.set_option(asio::ip::multicast::join_group(group6, index), ec);
      }
      if (d.announce_v6 && d.out_v6.size() < 16 &&
          std::find(d.out_v6.begin(), d.out_v6.end(), index) == d.out_v6.end()) {
        d.out_v6.push_back(index);
      }
    }
  }
  ::freeifaddrs(list);
}

awaitable<void> Server::BeaconSendLoop() {
  Discovery& d = *discovery_;
  asio::steady_timer t(io_);
  const auto group4 = asio::ip::make_address_v4(kBeaconGroupV4);
  const auto group6 = asio::ip::make_address_v6(kBeaconGroupV6);
  for (std::uint64_t tick = 0; !stopping_; ++tick) {
    if (tick > 0 && tick % 15 == 0) JoinGroups();
    const Bytes beacon = MakeBeacon(d.key.view(), static_cast<std::uint64_t>(node_.NowMs() / 1000),
                                    local_endpoint().port());
    d.sent.push_back(beacon);
    if (d.sent.size() > 8) d.sent.pop_front();
    boost::system::error_code ec;
    for (const auto& addr : d.out_v4) {
      if (!d.send4.is_open()) break;
      d.send4.set_option(asio::ip::multicast::outbound_interface(addr), ec);
      if (!ec) co_await d.send4.async_send_to(asio::buffer(beacon), udp::endpoint(group4, d.options.udp_port), kTuple);
    }
    for (unsigned index : d.out_v6) {
      if (!d.send6.is_open()) break;
      d.send6.set_option(asio::ip::multicast::outbound_interface(index), ec);
      auto to = group6;
      to.scope_id(index);
      if (!ec) co_await d.send6.async_send_to(asio::buffer(beacon), udp::endpoint(to, d.options.udp_port), kTuple);
    }
    t.expires_after(d.options.interval);
    co_await t.async_wait(kTuple);
  }
}

awaitable<void> Server::BeaconReceiveLoop(udp::socket& socket) {
  // Larger than a beacon, so that a longer datagram is seen to be one.
  std::array<std::uint8_t, kBeaconSize + 1> buffer{};
  udp::endpoint from;
  while (!stopping_ && socket.is_open()) {
    auto [ec, n] = co_await socket.async_receive_from(asio::buffer(buffer), from, kTuple);
    if (stopping_ || ec == asio::error::operation_aborted) co_return;
    if (ec) continue;  // e.g. an ICMP error reported on the socket
    OnBeacon(ByteView(buffer.data(), n), from);
  }
}

void Server::OnBeacon(ByteView datagram, const udp::endpoint& from) {
  Discovery& d = *discovery_;
  if (datagram.size() != kBeaconSize || Contains(d.sent, datagram)) return;  // our own, looped back
  const auto port = MatchBeacon(d.key.view(), datagram, static_cast<std::uint64_t>(node_.NowMs() / 1000));
  if (!port || *port == 0) return;
  // One beacon sent on several interfaces (or replayed) is acted on once.
  if (Contains(d.heard, datagram)) return;
  d.heard.emplace_back(datagram.begin(), datagram.end());
  if (d.heard.size() > kRememberBeacons) d.heard.pop_front();
  const tcp::endpoint peer(from.address(), *port);
  if (dialing_.count(peer) || dialing_.size() >= kMaxDiscoveryDials || KnownConnected(peer)) return;
  // At most one dial to an address per beacon interval.
  const auto now = std::chrono::steady_clock::now();
  auto [it, fresh] = d.last_dial.try_emplace(peer, now);
  if (!fresh) {
    if (now - it->second < d.options.interval) return;
    it->second = now;
  }
  if (d.last_dial.size() > 1024) d.last_dial.clear();
  asio::co_spawn(io_, DialOnce(peer), asio::detached);
}

Server::~Server() = default;

// ---- pairing ----

std::vector<Endpoint> LocalEndpoints(std::uint16_t port) {
  std::vector<Endpoint> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) == 0) {
    for (ifaddrs* i = list; i != nullptr && out.size() < kMaxInviteEndpoints - 1; i = i->ifa_next) {
      if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK)) continue;
      if (!(i->ifa_flags & IFF_UP)) continue;
      Endpoint e;
      const auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      std::memcpy(e.addr.data(), &sin->sin_addr, 4);
      e.port = port;
      out.push_back(e);
    }
    ::freeifaddrs(list);
  }
  Endpoint lo;
  lo.addr[0] = 127;
  lo.addr[3] = 1;
  lo.port = port;
  out.push_back(lo);
  return out;
}

Result<InviteCode> CreateInvite(node::Node& node, bool own_device, std::chrono::seconds ttl,
                                std::vector<Endpoint> endpoints) {
  if (ttl.count() <= 0 || ttl > std::chrono::hours(24 * 7)) {
    return MakeError(Errc::kInvalidInput, "An invite lasts from one second to seven days (--ttl).");
  }
  InviteCode code = NewInvite(own_device ? InviteKind::kDevice : InviteKind::kPartner, std::move(endpoints));
  HEARTH_TRY(node.AddInvite(InviteId(code), own_device, node.NowMs() + ttl.count() * 1000, code.secret));
  return code;
}

awaitable<void> Server::ServeJoin(tcp::socket socket) {
  Watchdog dog(socket, options_.handshake_timeout);
  std::array<std::uint8_t, kInviteHelloSize> hello{};
  auto [ec, n] = co_await asio::async_read(socket, asio::buffer(hello), kTuple);
  if (ec || std::memcmp(hello.data(), "HRTJ", 4) != 0 || hello[4] != 1) co_return;
  node::Node::InviteId id;
  std::memcpy(id.data(), hello.data() + 5, id.size());
  auto invite = node_.GetInvite(id);
  InviteAnswer answer = InviteAnswer::kProceed;
  if (!invite.ok() || !invite->has_value()) {
    answer = InviteAnswer::kUnknown;
  } else if ((*invite)->used) {
    answer = InviteAnswer::kUsed;
  } else if ((*invite)->expires_ms < node_.NowMs()) {
    answer = InviteAnswer::kExpired;
  }
  if (!(co_await WriteByte(socket, static_cast<std::uint8_t>(answer))).ok() || answer != InviteAnswer::kProceed) {
    co_return;
  }
  const bool own_device = (*invite)->own_device;
  Bytes prologue(kPairPrologue.begin(), kPairPrologue.end());
  Append(prologue, id);
  noise::HandshakeConfig cfg{noise::Pattern::kXXpsk3, noise::Role::kResponder, &node_.dh_key(),
                             InvitePsk((*invite)->secret.view().subspan(0, kInviteSecretSize)), prologue,
                             std::nullopt};
  Bytes request_bytes;
  auto ch = co_await Handshake(std::move(socket), std::move(cfg), {}, &request_bytes, options_.handshake_timeout);
  if (!ch.ok()) {
    if (on_join_error) on_join_error(ch.error().message);
    co_return;
  }
  // The code was right: it is spent now, whatever happens next.
  (void)node_.MarkInviteUsed(id);
  auto request = DecodeJoinRequest(request_bytes);
  // A device invite adds a device of this member; a partner invite a device
  // of a new member, whose id the joiner chose.
  if (!request.ok() || request->device.dh_key != ch->remote_static() ||
      (own_device ? request->device.member != 0
                  : request->device.member == 0 || request->device.member == node_.member_id() ||
                        !request->member_name)) {
    if (on_join_error) on_join_error("The joining device sent a malformed request.");
    co_return;
  }
  if (own_device) request->device.member = node_.member_id();
  crypto::SecretBytes grant = EncodeGrant(node_.MakeGrant(own_device));
  if (!(co_await ch->Send(grant.view())).ok()) co_return;
  // The joiner created its home; it says so before anything is added here.
  auto done = co_await ch->Receive();
  if (!done.ok() || done->size() != 1 || (*done)[0] != 1) co_return;
  if (Status s = node_.AddDevice(request->device, own_device ? std::nullopt : request->member_name); !s.ok()) {
    if (on_join_error) on_join_error(s.error().message);
    co_return;
  }
  auto peer = node_.DeviceByDhKey(request->device.dh_key);
  if (!peer) co_return;
  SyncSession session(node_, *peer);
  dog.Rearm();
  Status s = co_await RunToCompletion(*ch, session, options_);
  if (on_join) on_join(id);
  (void)s;
}

Result<std::unique_ptr<node::Node>> Join(const std::filesystem::path& home, const InviteCode& code,
                                         JoinOptions options, Clock& clock, const NetOptions& net) {
  std::error_code fec;
  if (std::filesystem::exists(home / "keys", fec) || std::filesystem::exists(home / "hearth.db", fec)) {
    return MakeError(Errc::kRefused, "A Hearth space already exists in " + home.string() + ".");
  }
  const bool own_device = code.kind == InviteKind::kDevice;
  if (!own_device && options.member_name.empty()) {
    return MakeError(Errc::kInvalidInput, "Joining as a partner needs --name: how your partner will see you.");
  }
  if (code.endpoints.empty()) return MakeError(Errc::kInvalidInput, "This invite code names no address to reach.");
  // This device's keys exist before its home: the inviter learns their public
  // halves in the handshake and adds them to the roster.
  keys::DeviceKeys device = keys::GenerateForNewSpace();
  JoinRequest req;
  req.device.member = own_device ? 0 : device.member_id;
  req.device.name = options.device_name;
  req.device.sign_key = device.sign.public_key();
  req.device.dh_key = device.dh.public_key();
  req.device.private_feed = node::Node::PrivateFeedOf(device.sign);
  if (!own_device) req.member_name = options.member_name;
  const Bytes request = EncodeJoinRequest(req);

  Result<std::unique_ptr<node::Node>> result = MakeError(Errc::kNetwork, "Could not reach the inviting device.");
  asio::io_context io;
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        for (const Endpoint& e : code.endpoints) {
          auto ep = ParseAddress(FormatEndpoint(e));
          if (!ep.ok()) continue;
          auto sock = co_await Connect(io.get_executor(), *ep, net.handshake_timeout);
          if (!sock.ok()) continue;
          Watchdog dog(*sock, net.handshake_timeout);
          if (!(co_await WriteByte(*sock, kJoinConn)).ok()) continue;
          const auto id = InviteId(code);
          Bytes hello{'H', 'R', 'T', 'J', 1};
          Append(hello, id);
          auto [ec, n] = co_await asio::async_write(*sock, asio::buffer(hello), kTuple);
          if (ec) continue;
          auto answer = co_await ReadByte(*sock);
          if (!answer.ok()) continue;
          switch (static_cast<InviteAnswer>(*answer)) {
            case InviteAnswer::kProceed:
              break;
            case InviteAnswer::kUsed:
              result = MakeError(Errc::kRefused, "This invite code was already used; ask for a new one.");
              co_return;
            case InviteAnswer::kExpired:
              result = MakeError(Errc::kRefused, "This invite code has expired; ask for a new one.");
              co_return;
            default:
              result = MakeError(Errc::kRefused,
                                 "The device at that address does not know this invite code; ask for a new one.");
              co_return;
          }
          Bytes prologue(kPairPrologue.begin(), kPairPrologue.end());
          Append(prologue, id);
          noise::HandshakeConfig cfg{noise::Pattern::kXXpsk3, noise::Role::kInitiator, &device.dh,
                                     InvitePsk(code.secret), prologue, std::nullopt};
          auto ch = co_await Handshake(std::move(*sock), std::move(cfg), request, nullptr, net.handshake_timeout);
          if (!ch.ok()) {
            result = MakeError(Errc::kAuth, "The inviting device refused this code; ask for a new one.");
            co_return;
          }
          auto grant_bytes = co_await ch->Receive();
          if (!grant_bytes.ok()) {
            result = MakeError(Errc::kAuth, "The inviting device refused this device.");
            co_return;
          }
          auto grant = DecodeGrant(*grant_bytes);
          std::fill(grant_bytes->begin(), grant_bytes->end(), 0);
          if (!grant.ok()) {
            result = grant.error();
            co_return;
          }
          if (grant->member.has_value() != own_device) {
            result = MakeError(Errc::kInvalidInput, "The inviting device sent the wrong kind of grant.");
            co_return;
          }
          node::InitOptions init{options.member_name, options.device_name, std::move(options.passphrase)};
          auto joined = node::Node::Join(home, std::move(init), std::move(*grant), std::move(device), clock);
          if (!joined.ok()) {
            result = joined.error();
            co_return;
          }
          auto& node = **joined;
          // The inviter, as far as this device knows it before the first sync.
          node::RosterDevice inviter;
          inviter.dh_key = ch->remote_static();
          inviter.member = own_device ? node.member_id() : 0;
          Bytes done{1};
          if ((co_await ch->Send(done)).ok()) {
            dog.Rearm();
            SyncSession session(node, node.DeviceByDhKey(inviter.dh_key).value_or(inviter));
            Status s = co_await RunToCompletion(*ch, session, net);
            // The home exists either way; a later sync finishes the job.
            if (auto known = node.DeviceByDhKey(inviter.dh_key)) {
              const auto lacks = session.PeerLacks();
              (void)node.NotePeer({known->id, false, node.NowMs(), FormatAddress(*ep), s.ok() && lacks.ok() ? *lacks : 0});
            }
          }
          result = std::move(joined);
          co_return;
        }
      },
      asio::detached);
  io.run();
  return result;
}

}  // namespace hearth::net
