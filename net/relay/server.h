// hearth::relay::Server — a blind relay for devices that cannot reach each
// other directly. Clients connect with Noise_NK to the relay's static key,
// prove mailbox keys, and either listen in a mailbox or turn their connection
// into a pipe to another device of it; the relay then copies bytes between
// the two pipe ends without reading them (the devices' own Noise session
// runs inside). With a MailboxStore it also keeps blobs for devices that
// are not online together (store-and-forward), still without reading them.
// docs/relay-protocol.md is the specification.
//
// One io_context thread runs everything.
#pragma once

#include <utility>  // before Asio's coroutine headers (g++ 12)

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "net/relay/protocol.h"
#include "net/relay/store.h"
#include "net/transport.h"

namespace hearth::relay {

namespace pb {  // relay.pb.h
class Put;
class Get;
}  // namespace pb

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
  std::uint64_t blobs_stored = 0;  // new places kept by Puts
  std::uint64_t blobs_served = 0;  // blobs sent in answers to Gets
};

class Server {
 public:
  // Without a store (not owned; it must outlive the server) the relay
  // refuses Put, Heads and Get.
  Server(asio::io_context& io, crypto::DhKey key, RelayLimits limits = {}, MailboxStore* store = nullptr);
  ~Server();
  Status Listen(const tcp::endpoint& at);
  tcp::endpoint local_endpoint() const;
  const crypto::PublicKey& public_key() const { return key_.public_key(); }
  void Start();
  void Stop();
  const RelayStats& stats() const { return stats_; }
  // Tests only: lets a test play a relay operator who tampers with pipes.
  // When set, a pipe forwards filter(direction, chunk) instead of each chunk
  // it reads (direction 0: from the connecting device to the accepting one,
  // 1: back); what it returns may be empty, longer, or changed. Production
  // never sets it.
  void set_pipe_filter(std::function<Bytes(int direction, ByteView chunk)> filter) {
    pipe_filter_ = std::move(filter);
  }

 private:
  struct Conn;
  struct Pending;
  awaitable<void> AcceptLoop();
  awaitable<void> Handle(tcp::socket socket, std::string ip);
  awaitable<void> Serve(std::shared_ptr<Conn> conn);
  awaitable<void> Splice(std::shared_ptr<Conn> a, std::shared_ptr<Conn> b);
  awaitable<void> Copy(std::shared_ptr<Conn> from, std::shared_ptr<Conn> to, int direction);
  awaitable<void> Sweep();
  // The mailbox requests, answered at once (the store does not wait on the
  // network); false when the connection must close.
  bool ServePut(const std::shared_ptr<Conn>& conn, const MailboxId& mailbox, const pb::Put& put);
  bool ServeHeads(const std::shared_ptr<Conn>& conn, const MailboxId& mailbox);
  bool ServeGet(const std::shared_ptr<Conn>& conn, const MailboxId& mailbox, const pb::Get& get);
  awaitable<void> Flush(std::shared_ptr<Conn> conn);
  void Send(const std::shared_ptr<Conn>& conn, Bytes message);
  void Fail(const std::shared_ptr<Conn>& conn, RelayErrc code, const std::string& why);
  void Forget(Conn& conn);

  asio::io_context& io_;
  crypto::DhKey key_;
  RelayLimits limits_;
  MailboxStore* store_;
  tcp::acceptor acceptor_;
  asio::steady_timer sweep_timer_;
  std::function<Bytes(int, ByteView)> pipe_filter_;
  bool stopping_ = false;
  RelayStats stats_;
  std::map<std::string, std::size_t> per_address_;
  std::map<MailboxId, std::map<std::uint64_t, std::weak_ptr<Conn>>> listeners_;  // by token
  std::map<std::uint64_t, std::shared_ptr<Pending>> pending_;                    // by pipe id
  // False once the server is destroyed. The io_context usually outlives it
  // and destroys the coroutines still suspended, and their connections, last.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace hearth::relay
