#include "net/peer.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <cstring>

#include "net/pairing.h"

namespace hearth::net {

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::uint8_t kSyncConn = 'S';
constexpr std::uint8_t kJoinConn = 'J';
constexpr std::string_view kSyncPrologue = "hearth/sync/v1";
constexpr std::string_view kPairPrologue = "hearth/pair/v1";

std::string Describe(const tcp::endpoint& ep) {
  const auto a = ep.address();
  return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(ep.port());
}

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
    co_return MakeError(Errc::kNetwork, "Could not reach " + Describe(ep) + ".");
  }
  co_return std::move(s);
}

// The sync handshake on a fresh socket, and the roster check of the peer.
awaitable<Result<std::pair<SecureChannel, node::RosterDevice>>> SyncHandshake(node::Node& node, tcp::socket s,
                                                                               bool initiator,
                                                                               const NetOptions& opt) {
  Watchdog dog(s, opt.handshake_timeout);
  noise::HandshakeConfig cfg{noise::Pattern::kXX, initiator ? noise::Role::kInitiator : noise::Role::kResponder,
                             &node.dh_key(), std::nullopt, Bytes(kSyncPrologue.begin(), kSyncPrologue.end()),
                             std::nullopt};
  auto ch = co_await Handshake(std::move(s), std::move(cfg), {}, nullptr);
  if (!ch.ok()) co_return ch.error();
  auto peer = node.DeviceByDhKey(ch->remote_static());
  if (!peer) {
    co_return MakeError(Errc::kAuth, "The peer is not a device of this space; the connection was refused.");
  }
  co_return std::make_pair(std::move(*ch), *peer);
}

}  // namespace

std::string FormatAddress(const tcp::endpoint& endpoint) { return Describe(endpoint); }

Result<tcp::endpoint> ParseAddress(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon + 1 >= text.size()) {
    return MakeError(Errc::kInvalidInput, "'" + std::string(text) + "' is not ADDRESS:PORT.");
  }
  std::string host(text.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host == "localhost") host = "127.0.0.1";
  unsigned long port = 0;
  try {
    std::size_t used = 0;
    port = std::stoul(std::string(text.substr(colon + 1)), &used);
    if (used != text.size() - colon - 1) port = 70000;
  } catch (...) {
    port = 70000;
  }
  boost::system::error_code ec;
  const auto addr = asio::ip::make_address(host, ec);
  if (ec || port > 65535) {
    return MakeError(Errc::kInvalidInput, "'" + std::string(text) + "' is not ADDRESS:PORT.");
  }
  return tcp::endpoint(addr, static_cast<std::uint16_t>(port));
}

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
                      std::chrono::milliseconds timeout, const NetOptions& options) {
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
            report.lines.push_back(Describe(ep) + ": " + hs.error().message);
            co_return;
          }
          ++report.reached;
          auto& [ch, peer] = *hs;
          SyncSession session(node, peer);
          Watchdog limit(ch.socket(), timeout);
          Status s = co_await RunToCompletion(ch, session, options);
          const auto lacks = session.PeerLacks();
          (void)node.NotePeer({peer.id, false, node.NowMs(), Describe(ep), lacks.ok() ? *lacks : 0});
          if (!s.ok()) {
            note_failure(limit.fired() ? MakeError(Errc::kNetwork, "Sync with " + Describe(ep) + " timed out.")
                                       : s.error());
            report.lines.push_back(Describe(ep) + ": " + s.error().message);
            co_return;
          }
          ++report.synced;
          report.lines.push_back("Synced with " + peer.name + " at " + Describe(ep) + ": received " +
                                 std::to_string(session.stats().records_received) + ", sent " +
                                 std::to_string(session.stats().records_sent) + " records (" +
                                 std::to_string(ch.bytes_in()) + " bytes in, " + std::to_string(ch.bytes_out()) +
                                 " bytes out after the handshake).");
        },
        asio::detached);
  }
  io.run();
  return report;
}

// ---- the server ----

struct Server::Conn {
  Conn(SecureChannel c, node::Node& n, node::RosterDevice p, std::string a)
      : ch(std::move(c)), session(n, std::move(p)), address(std::move(a)) {}
  SecureChannel ch;
  SyncSession session;
  std::string address;
  bool writing = false;
  bool closed = false;
  std::optional<std::uint64_t> noted_lack;
};

Server::Server(node::Node& node, asio::io_context& io, NetOptions options)
    : node_(node), io_(io), options_(options), acceptor_(io) {}

Server::~Server() = default;

Status Server::Listen(const tcp::endpoint& at) {
  boost::system::error_code ec;
  acceptor_.open(at.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(at, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return MakeError(Errc::kNetwork, "Could not listen on " + Describe(at) + ": " + ec.message() + ".");
  }
  return {};
}

tcp::endpoint Server::local_endpoint() const {
  boost::system::error_code ec;
  return acceptor_.local_endpoint(ec);
}

void Server::AddPeer(const tcp::endpoint& peer) { peers_.push_back(peer); }

void Server::Start() {
  if (acceptor_.is_open()) asio::co_spawn(io_, AcceptLoop(), asio::detached);
  asio::co_spawn(io_, PollLoop(), asio::detached);
  for (const auto& p : peers_) asio::co_spawn(io_, DialLoop(p), asio::detached);
}

void Server::Stop() {
  stopping_ = true;
  boost::system::error_code ec;
  acceptor_.close(ec);
  for (auto& c : conns_) c->ch.socket().close(ec);
  io_.stop();
}

awaitable<void> Server::AcceptLoop() {
  while (!stopping_) {
    auto [ec, socket] = co_await acceptor_.async_accept(kTuple);
    if (ec) {
      if (stopping_ || ec == asio::error::operation_aborted) co_return;
      continue;
    }
    asio::co_spawn(io_, HandleIncoming(std::move(socket)), asio::detached);
  }
}

awaitable<void> Server::HandleIncoming(tcp::socket socket) {
  const std::string address = [&] {
    boost::system::error_code ec;
    auto ep = socket.remote_endpoint(ec);
    return ec ? std::string("?") : Describe(ep);
  }();
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
  auto conn = std::make_shared<Conn>(std::move(hs->first), node_, hs->second, address);
  co_await RunConn(conn);
}

awaitable<void> Server::DialLoop(tcp::endpoint peer) {
  asio::steady_timer wait(io_);
  while (!stopping_) {
    auto sock = co_await Connect(io_.get_executor(), peer, options_.handshake_timeout);
    if (sock.ok() && (co_await WriteByte(*sock, kSyncConn)).ok()) {
      auto hs = co_await SyncHandshake(node_, std::move(*sock), true, options_);
      if (hs.ok()) {
        auto conn = std::make_shared<Conn>(std::move(hs->first), node_, hs->second, Describe(peer));
        co_await RunConn(conn);
      }
    }
    if (stopping_) co_return;
    wait.expires_after(std::chrono::seconds(2));
    co_await wait.async_wait(kTuple);
  }
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
  c.writing = false;
  co_return result;
}

awaitable<Status> Server::RunConn(std::shared_ptr<Conn> conn) {
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
              Bytes empty;
              if (!(co_await conn->ch.Send(empty)).ok()) co_return;
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
      if (msg->empty()) continue;  // a ping
      status = conn->session.Receive(*msg);
      if (!status.ok()) break;
      status = co_await Flush(*conn);
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
  const auto lacks = conn->session.PeerLacks();
  (void)node_.NotePeer({conn->session.peer().id, false, node_.NowMs(), conn->address, lacks.ok() ? *lacks : 0});
  conns_.remove(conn);
  co_return status;
}

awaitable<void> Server::PollLoop() {
  asio::steady_timer t(io_);
  while (!stopping_) {
    auto v = node_.DataVersion();
    if (v.ok() && *v != data_version_) {
      const bool first = data_version_ < 0;
      data_version_ = *v;
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

void Server::NoteAll() {
  for (auto& c : conns_) {
    if (c->closed) continue;
    auto lacks = c->session.PeerLacks();
    if (!lacks.ok() || (c->noted_lack && *c->noted_lack == *lacks)) continue;
    c->noted_lack = *lacks;
    (void)node_.NotePeer({c->session.peer().id, true, node_.NowMs(), c->address, *lacks});
  }
}

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
  auto ch = co_await Handshake(std::move(socket), std::move(cfg), {}, &request_bytes);
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
          auto ch = co_await Handshake(std::move(*sock), std::move(cfg), request, nullptr);
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
              (void)node.NotePeer({known->id, false, node.NowMs(), Describe(*ep), s.ok() && lacks.ok() ? *lacks : 0});
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
