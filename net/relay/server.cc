#include "net/relay/server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <deque>
#include <set>

#include "relay.pb.h"

namespace hearth::relay {

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

Bytes Encode(const pb::Event& e) {
  Bytes b(e.ByteSizeLong());
  e.SerializeToArray(b.data(), static_cast<int>(b.size()));
  return b;
}

std::optional<MailboxId> AsMailbox(const std::string& s) {
  if (s.size() != kMailboxIdSize) return std::nullopt;
  MailboxId id;
  std::memcpy(id.data(), s.data(), id.size());
  return id;
}

std::optional<StreamId> AsStream(const std::string& s) {
  if (s.size() != kStreamIdSize) return std::nullopt;
  StreamId id;
  std::memcpy(id.data(), s.data(), id.size());
  return id;
}

template <std::size_t N>
std::string Str(const std::array<std::uint8_t, N>& id) {
  return std::string(reinterpret_cast<const char*>(id.data()), id.size());
}

// Blobs remember when they were stored by the relay's wall clock (expiry
// must hold across restarts, which a steady clock does not).
std::int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

struct Server::Conn {
  Conn(Server& s, net::SecureChannel c, std::string a)
      : server(s), server_alive(s.alive_), ch(std::move(c)), ip(std::move(a)) {
    ++server.stats_.connections;
    ++server.per_address_[ip];
    tokens = 2 * server.limits_.requests_per_second;
    refilled = std::chrono::steady_clock::now();
  }
  ~Conn() {
    if (!*server_alive) return;  // destroyed with a coroutine after the server
    --server.stats_.connections;
    if (auto it = server.per_address_.find(ip); it != server.per_address_.end() && --it->second == 0) {
      server.per_address_.erase(it);
    }
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // One request's worth of the rate limit; false when it is used up.
  bool Spend() {
    const auto now = std::chrono::steady_clock::now();
    const double rate = server.limits_.requests_per_second;
    tokens = std::min(2 * rate, tokens + std::chrono::duration<double>(now - refilled).count() * rate);
    refilled = now;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  }

  Server& server;
  std::shared_ptr<const bool> server_alive;
  net::SecureChannel ch;
  std::string ip;
  std::set<MailboxId> opened;
  std::optional<std::pair<MailboxId, std::uint64_t>> listening;  // mailbox and token
  std::deque<Bytes> out;
  bool writing = false;
  bool broken = false;
  double tokens = 0;
  std::chrono::steady_clock::time_point refilled;
};

struct Server::Pending {
  Pending(asio::io_context& io, MailboxId m, std::shared_ptr<Conn> c) : mailbox(m), connector(std::move(c)), timer(io) {}
  MailboxId mailbox;
  std::shared_ptr<Conn> connector;
  asio::steady_timer timer;
  bool matched = false;
};

Server::Server(asio::io_context& io, crypto::DhKey key, RelayLimits limits, MailboxStore* store)
    : io_(io), key_(std::move(key)), limits_(limits), store_(store), acceptor_(io), sweep_timer_(io) {}

Server::~Server() { *alive_ = false; }

Status Server::Listen(const tcp::endpoint& at) { return net::ListenOn(acceptor_, at); }

tcp::endpoint Server::local_endpoint() const {
  boost::system::error_code ec;
  return acceptor_.local_endpoint(ec);
}

void Server::Start() {
  asio::co_spawn(io_, AcceptLoop(), asio::detached);
  if (store_) asio::co_spawn(io_, Sweep(), asio::detached);
}

void Server::Stop() {
  stopping_ = true;
  boost::system::error_code ec;
  acceptor_.close(ec);
  sweep_timer_.cancel();
  io_.stop();
}

awaitable<void> Server::Sweep() {
  while (!stopping_) {
    // A failure (disk trouble) is tried again at the next sweep.
    (void)store_->Expire(NowSeconds());
    sweep_timer_.expires_after(std::chrono::milliseconds(limits_.expiry_sweep_ms));
    co_await sweep_timer_.async_wait(kTuple);
  }
}

awaitable<void> Server::AcceptLoop() {
  while (!stopping_) {
    auto [ec, socket] = co_await acceptor_.async_accept(kTuple);
    if (ec) {
      if (stopping_ || ec == asio::error::operation_aborted) co_return;
      // E.g. out of file descriptors: keep serving the others. The
      // connection stays queued and accepting again at once would fail at
      // once, a busy loop; pause instead.
      asio::steady_timer pause(io_);
      pause.expires_after(std::chrono::milliseconds(100));
      co_await pause.async_wait(kTuple);
      continue;
    }
    boost::system::error_code rec;
    const auto remote = socket.remote_endpoint(rec);
    if (rec) continue;
    asio::co_spawn(io_, Handle(std::move(socket), remote.address().to_string()), asio::detached);
  }
}

void Server::Send(const std::shared_ptr<Conn>& conn, Bytes message) {
  conn->out.push_back(std::move(message));
  if (!conn->writing) asio::co_spawn(io_, Flush(conn), asio::detached);
}

awaitable<void> Server::Flush(std::shared_ptr<Conn> conn) {
  if (conn->writing) co_return;
  conn->writing = true;
  while (!conn->broken && !conn->out.empty()) {
    Bytes m = std::move(conn->out.front());
    conn->out.pop_front();
    if (!(co_await conn->ch.Send(m)).ok()) conn->broken = true;
  }
  conn->writing = false;
}

void Server::Fail(const std::shared_ptr<Conn>& conn, RelayErrc code, const std::string& why) {
  ++stats_.refused;
  pb::Event e;
  e.mutable_failure()->set_code(static_cast<std::uint32_t>(code));
  e.mutable_failure()->set_message(why);
  Send(conn, Encode(e));
}

void Server::Forget(Conn& conn) {
  if (!conn.listening) return;
  auto it = listeners_.find(conn.listening->first);
  if (it != listeners_.end()) {
    it->second.erase(conn.listening->second);
    if (it->second.empty()) listeners_.erase(it);
  }
  conn.listening.reset();
  --stats_.listeners;
}

awaitable<void> Server::Handle(tcp::socket socket, std::string ip) {
  const bool over = stats_.connections >= limits_.connections_total ||
                    (per_address_.contains(ip) && per_address_[ip] >= limits_.connections_per_address);
  Result<net::SecureChannel> ch = MakeError(Errc::kNetwork, "");
  {
    net::noise::HandshakeConfig cfg{net::noise::Pattern::kNK, net::noise::Role::kResponder, &key_, std::nullopt,
                               Bytes(kRelayPrologue.begin(), kRelayPrologue.end()), std::nullopt};
    ch = co_await net::Handshake(std::move(socket), std::move(cfg), {}, nullptr,
                                 std::chrono::milliseconds(limits_.handshake_timeout_ms));
  }
  if (!ch.ok()) {
    ++stats_.refused;
    co_return;
  }
  auto conn = std::make_shared<Conn>(*this, std::move(*ch), ip);
  conn->ch.set_max_message(limits_.max_message);
  if (over) {
    Fail(conn, RelayErrc::kTooMany, "The relay has too many connections from this address; try again later.");
    co_await Flush(conn);
    co_return;
  }
  co_await Serve(conn);
}

awaitable<void> Server::Serve(std::shared_ptr<Conn> conn) {
  net::Watchdog idle(conn->ch.socket(), std::chrono::milliseconds(limits_.idle_timeout_ms));
  while (!stopping_ && !conn->broken) {
    auto msg = co_await conn->ch.Receive();
    if (!msg.ok()) {
      if (msg.error().code == Errc::kInvalidInput) {
        Fail(conn, RelayErrc::kTooLarge, "The message is larger than this relay accepts.");
        co_await Flush(conn);
      }
      break;
    }
    idle.Rearm();
    if (msg->empty()) continue;  // a keep-alive
    if (!conn->Spend()) {
      Fail(conn, RelayErrc::kRateLimited, "Too many requests; slow down and reconnect.");
      co_await Flush(conn);
      break;
    }
    pb::Request req;
    if (msg->size() > static_cast<std::size_t>(INT32_MAX) ||
        !req.ParseFromArray(msg->data(), static_cast<int>(msg->size()))) {
      Fail(conn, RelayErrc::kMalformed, "The relay could not read the request.");
      co_await Flush(conn);
      break;
    }
    // Every mailbox named must have been opened on this connection.
    auto opened = [&](const std::string& s) -> std::optional<MailboxId> {
      auto id = AsMailbox(s);
      if (!id || !conn->opened.contains(*id)) return std::nullopt;
      return id;
    };
    if (req.has_open()) {
      const auto& o = req.open();
      crypto::PublicKey key{};
      crypto::Signature sig{};
      if (o.key().size() != key.size() || o.signature().size() != sig.size() || conn->opened.size() >= 8) {
        Fail(conn, RelayErrc::kMalformed, "A mailbox proof has the wrong size, or too many mailboxes are open.");
        co_await Flush(conn);
        break;
      }
      std::memcpy(key.data(), o.key().data(), key.size());
      std::memcpy(sig.data(), o.signature().data(), sig.size());
      if (!crypto::VerifySignature(key, OpenChallenge(conn->ch.handshake_hash()), sig)) {
        Fail(conn, RelayErrc::kBadProof, "The mailbox proof does not verify.");
        co_await Flush(conn);
        break;
      }
      const MailboxId id = MailboxOf(key);
      conn->opened.insert(id);
      // Proven: from now on the connection may Put blobs, which take bigger
      // messages than strangers are allowed.
      if (store_) conn->ch.set_max_message(std::max(limits_.max_message, limits_.max_store_message));
      pb::Event e;
      e.mutable_opened()->set_mailbox(Str(id));
      Send(conn, Encode(e));
    } else if (req.has_listen()) {
      auto id = opened(req.listen().mailbox());
      if (!id || conn->listening) {
        Fail(conn, id ? RelayErrc::kMalformed : RelayErrc::kNotOpened, "Listen needs an opened mailbox, once.");
        co_await Flush(conn);
        break;
      }
      auto& present = listeners_[*id];
      if (present.size() >= limits_.listeners_per_mailbox) {
        Fail(conn, RelayErrc::kTooMany, "Too many devices are present in this mailbox.");
        co_await Flush(conn);
        break;
      }
      const std::uint64_t token = crypto::RandomU64();
      {
        pb::Event e;
        e.mutable_listening()->set_mailbox(Str(*id));
        e.mutable_listening()->set_present(static_cast<std::uint32_t>(present.size()));
        Send(conn, Encode(e));
      }
      // The devices already present dial the newcomer: one pipe per pair.
      for (auto& [t, weak] : present) {
        if (auto other = weak.lock()) {
          pb::Event e;
          e.mutable_peer()->set_mailbox(Str(*id));
          e.mutable_peer()->set_token(token);
          Send(other, Encode(e));
        }
      }
      present[token] = conn;
      conn->listening = std::make_pair(*id, token);
      ++stats_.listeners;
    } else if (req.has_connect()) {
      auto id = opened(req.connect().mailbox());
      std::shared_ptr<Conn> target;
      if (id && !conn->listening) {
        if (auto m = listeners_.find(*id); m != listeners_.end()) {
          if (auto t = m->second.find(req.connect().peer()); t != m->second.end()) target = t->second.lock();
        }
      }
      if (!target || pending_.size() >= limits_.connections_total) {
        Fail(conn, id ? RelayErrc::kNoSuchPeer : RelayErrc::kNotOpened, "That device is not in the mailbox.");
        co_await Flush(conn);
        break;
      }
      const std::uint64_t pipe = crypto::RandomU64();
      auto pending = std::make_shared<Pending>(io_, *id, conn);
      pending_[pipe] = pending;
      pb::Event e;
      e.mutable_incoming()->set_mailbox(Str(*id));
      e.mutable_incoming()->set_pipe(pipe);
      Send(target, Encode(e));
      idle.Disarm();
      pending->timer.expires_after(std::chrono::milliseconds(limits_.pipe_timeout_ms));
      co_await pending->timer.async_wait(kTuple);
      if (!pending->matched) {
        pending_.erase(pipe);
        Fail(conn, RelayErrc::kNoSuchPeer, "The other device did not answer in time.");
        co_await Flush(conn);
      }
      co_return;  // matched: the accepting side runs the pipe
    } else if (req.has_accept()) {
      auto id = opened(req.accept().mailbox());
      auto it = pending_.find(req.accept().pipe());
      if (!id || conn->listening || it == pending_.end() || it->second->mailbox != *id) {
        Fail(conn, id ? RelayErrc::kNoSuchPeer : RelayErrc::kNotOpened, "No such pipe is waiting.");
        co_await Flush(conn);
        break;
      }
      auto pending = it->second;
      pending_.erase(it);
      pending->matched = true;
      pending->timer.cancel();
      idle.Disarm();
      co_await Splice(pending->connector, conn);
      co_return;
    } else if (req.has_put() || req.has_heads() || req.has_get()) {
      const std::string& named = req.has_put()     ? req.put().mailbox()
                                 : req.has_heads() ? req.heads().mailbox()
                                                   : req.get().mailbox();
      auto id = opened(named);
      bool keep = true;
      if (!id) {
        Fail(conn, RelayErrc::kNotOpened, "Put, Heads and Get need a mailbox opened on this connection.");
        keep = false;
      } else if (!store_) {
        Fail(conn, RelayErrc::kStorage, "This relay keeps no mailboxes.");
      } else if (req.has_put()) {
        keep = ServePut(conn, *id, req.put());
      } else if (req.has_heads()) {
        keep = ServeHeads(conn, *id);
      } else {
        keep = ServeGet(conn, *id, req.get());
      }
      if (!keep) {
        co_await Flush(conn);
        break;
      }
    } else {
      Fail(conn, RelayErrc::kMalformed, "The relay does not know this request.");
      co_await Flush(conn);
      break;
    }
  }
  Forget(*conn);
}

// A refusal of the mailbox's state (full, too many streams, storage trouble)
// leaves the connection open: the request was fine and the device may go on,
// e.g. fetch what it can. A request that breaks the rules closes it.
bool Server::ServePut(const std::shared_ptr<Conn>& conn, const MailboxId& mailbox, const pb::Put& put) {
  const auto stream = AsStream(put.stream());
  if (!stream || put.blobs_size() < 1 || static_cast<std::size_t>(put.blobs_size()) > kMaxBlobsPerPut) {
    Fail(conn, RelayErrc::kMalformed, "A Put needs a 32-byte stream and 1 to 1024 blobs.");
    return false;
  }
  std::vector<Bytes> blobs;
  blobs.reserve(static_cast<std::size_t>(put.blobs_size()));
  for (const std::string& b : put.blobs()) blobs.emplace_back(b.begin(), b.end());
  auto outcome = store_->Put(mailbox, *stream, put.first_seq(), blobs, NowSeconds());
  if (!outcome.ok()) {
    Fail(conn, RelayErrc::kStorage, "The relay could not store this right now; nothing was kept.");
    return true;
  }
  if (outcome->refused == RelayErrc::kQuotaFull) {
    Fail(conn, RelayErrc::kQuotaFull, "The relay's mailbox is full; nothing of this was kept until older blobs expire.");
    return true;
  }
  if (outcome->refused == RelayErrc::kTooMany) {
    Fail(conn, RelayErrc::kTooMany, "The relay's mailbox holds as many streams as it allows; nothing was kept.");
    return true;
  }
  if (!outcome->ok()) {
    Fail(conn, RelayErrc::kMalformed,
         "A Put needs seqs from 1 that do not overflow and blobs of 1 byte to 1 MiB + 4 KiB.");
    return false;
  }
  stats_.blobs_stored += outcome->added;
  pb::Event e;
  auto* s = e.mutable_stored();
  s->set_stream(put.stream());
  s->set_first_seq(put.first_seq());
  s->set_count(static_cast<std::uint32_t>(blobs.size()));
  s->set_added(outcome->added);
  Send(conn, Encode(e));
  return true;
}

bool Server::ServeHeads(const std::shared_ptr<Conn>& conn, const MailboxId& mailbox) {
  auto heads = store_->Heads(mailbox);
  if (!heads.ok()) {
    Fail(conn, RelayErrc::kStorage, "The relay could not read its mailboxes right now; try again later.");
    return true;
  }
  pb::Event e;
  auto* h = e.mutable_mailbox_heads();
  h->set_mailbox(Str(mailbox));
  for (const StreamHead& s : heads->streams) {
    auto* out = h->add_streams();
    out->set_stream(Str(s.stream));
    out->set_first(s.first);
    out->set_last(s.last);
  }
  h->set_bytes_used(heads->bytes_used);
  h->set_bytes_quota(heads->bytes_quota);
  Send(conn, Encode(e));
  return true;
}

bool Server::ServeGet(const std::shared_ptr<Conn>& conn, const MailboxId& mailbox, const pb::Get& get) {
  const auto stream = AsStream(get.stream());
  if (!stream || get.from_seq() < 1) {
    Fail(conn, RelayErrc::kMalformed, "A Get needs a 32-byte stream and a seq from 1.");
    return false;
  }
  auto run = store_->Get(mailbox, *stream, get.from_seq(), get.max_bytes());
  if (!run.ok()) {
    Fail(conn, RelayErrc::kStorage, "The relay could not read its mailboxes right now; try again later.");
    return true;
  }
  stats_.blobs_served += run->blobs.size();
  pb::Event e;
  auto* b = e.mutable_blobs();
  b->set_stream(get.stream());
  b->set_first_seq(run->first_seq);
  for (const Bytes& blob : run->blobs) b->add_blobs(std::string(blob.begin(), blob.end()));
  Send(conn, Encode(e));
  return true;
}

awaitable<void> Server::Copy(std::shared_ptr<Conn> from, std::shared_ptr<Conn> to, int direction) {
  std::vector<std::uint8_t> buffer(limits_.pipe_buffer);
  net::Watchdog idle(from->ch.socket(), std::chrono::milliseconds(limits_.idle_timeout_ms));
  while (true) {
    auto [ec, n] = co_await from->ch.socket().async_read_some(asio::buffer(buffer), kTuple);
    if (ec) break;
    idle.Rearm();
    ByteView chunk(buffer.data(), n);
    Bytes filtered;
    if (pipe_filter_) {
      filtered = pipe_filter_(direction, chunk);
      chunk = filtered;
      if (chunk.empty()) continue;
    }
    // The next read waits for this write: a slow reader slows its writer
    // down instead of filling the relay's memory.
    auto [wec, w] = co_await asio::async_write(to->ch.socket(), asio::buffer(chunk.data(), chunk.size()), kTuple);
    if (wec) break;
    stats_.bytes_piped += chunk.size();
  }
  boost::system::error_code ignored;
  from->ch.socket().close(ignored);
  to->ch.socket().close(ignored);
}

awaitable<void> Server::Splice(std::shared_ptr<Conn> a, std::shared_ptr<Conn> b) {
  // Spliced must be the last bytes of the relay's own session on each end:
  // wait until nothing else is being written, then write it.
  pb::Event e;
  e.mutable_spliced();
  asio::steady_timer wait(io_);
  for (auto* c : {&a, &b}) {
    (*c)->out.push_back(Encode(e));
    while (!(*c)->broken && ((*c)->writing || !(*c)->out.empty())) {
      if (!(*c)->writing) {
        co_await Flush(*c);
      } else {
        wait.expires_after(std::chrono::milliseconds(1));
        co_await wait.async_wait(kTuple);
      }
    }
  }
  if (a->broken || b->broken) co_return;
  ++stats_.pipes;
  ++stats_.pipes_total;
  using namespace asio::experimental::awaitable_operators;
  co_await (Copy(a, b, 0) && Copy(b, a, 1));
  --stats_.pipes;
}

}  // namespace hearth::relay
