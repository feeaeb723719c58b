// hearth::relay::Server — a blind relay for devices that cannot reach each
// other directly. Clients connect with Noise_NK to the relay's static key,
// prove mailbox keys, and either listen in a mailbox or turn their connection
// into a pipe to another device of it; the relay then copies bytes between
// the two pipe ends without reading them (the devices' own Noise session
// runs inside). docs/relay-protocol.md is the specification.
//
// One io_context thread runs everything.
#pragma once

#include <utility>  // before Asio's coroutine headers (g++ 12)

#include <map>
#include <memory>
#include <string>

#include "net/relay/protocol.h"
#include "net/transport.h"

namespace hearth::relay {

namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;

struct RelayStats {
  std::size_t connections = 0;   // open now
  std::size_t listeners = 0;     // open now
  std::size_t pipes = 0;         // spliced now
  std::uint64_t pipes_total = 0;
  std::uint64_t refused = 0;     // connections or requests refused by a limit or a check
  std::uint64_t bytes_piped = 0;
};

class Server {
 public:
  Server(asio::io_context& io, crypto::DhKey key, RelayLimits limits = {});
  ~Server();
  Status Listen(const tcp::endpoint& at);
  tcp::endpoint local_endpoint() const;
  const crypto::PublicKey& public_key() const { return key_.public_key(); }
  void Start();
  void Stop();
  const RelayStats& stats() const { return stats_; }

 private:
  struct Conn;
  struct Pending;
  awaitable<void> AcceptLoop();
  awaitable<void> Handle(tcp::socket socket, std::string ip);
  awaitable<void> Serve(std::shared_ptr<Conn> conn);
  awaitable<void> Splice(std::shared_ptr<Conn> a, std::shared_ptr<Conn> b);
  awaitable<void> Copy(std::shared_ptr<Conn> from, std::shared_ptr<Conn> to);
  awaitable<void> Flush(std::shared_ptr<Conn> conn);
  void Send(const std::shared_ptr<Conn>& conn, Bytes message);
  void Fail(const std::shared_ptr<Conn>& conn, RelayErrc code, const std::string& why);
  void Forget(Conn& conn);

  asio::io_context& io_;
  crypto::DhKey key_;
  RelayLimits limits_;
  tcp::acceptor acceptor_;
  bool stopping_ = false;
  RelayStats stats_;
  std::map<std::string, std::size_t> per_address_;
  std::map<MailboxId, std::map<std::uint64_t, std::weak_ptr<Conn>>> listeners_;  // by token
  std::map<std::uint64_t, std::shared_ptr<Pending>> pending_;                    // by pipe id
};

}  // namespace hearth::relay
