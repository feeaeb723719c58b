// The device's side of the relay protocol (docs/relay-protocol.md): a
// Noise_NK connection to a pinned relay key, mailbox proofs, presence,
// pipes, and the store-and-forward mailbox. A pipe ends as a plain TCP socket whose bytes go to the other device
// unchanged, so the device-to-device session runs over it exactly as over a
// direct connection. Knows nothing of nodes: the caller derives mailbox keys.
#pragma once

#include <utility>  // before Asio's coroutine headers (g++ 12)

#include "net/relay/protocol.h"
#include "net/transport.h"

namespace hearth::relay {

namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;

// Something the relay said unprompted (or a refusal).
struct RelayEvent {
  enum class Kind { kPeer, kIncoming, kFailure };
  Kind kind = Kind::kFailure;
  MailboxId mailbox{};
  std::uint64_t id = 0;  // the peer's token, or the pipe id
  RelayErrc code{};      // kFailure
  std::string message;   // kFailure
};

class Connection {
 public:
  // Connects and completes the NK handshake within `timeout`. kAuth when the
  // relay does not hold the pinned key.
  static awaitable<Result<Connection>> Dial(const RelayAddress& relay, std::chrono::milliseconds timeout);

  // Proves `mailbox_key` and waits for the relay's answer.
  awaitable<Result<MailboxId>> Open(const crypto::SigningKey& mailbox_key);
  // Becomes present in an opened mailbox; Peer and Incoming events follow.
  // Returns how many other devices are present (each is told of this one).
  awaitable<Result<std::uint32_t>> Listen(const MailboxId& mailbox);
  awaitable<Result<RelayEvent>> NextEvent();
  // Turns this connection into a pipe (to a Peer token, or accepting an
  // Incoming pipe) and returns its socket once the relay joined both ends.
  awaitable<Result<tcp::socket>> ConnectPipe(const MailboxId& mailbox, std::uint64_t token);
  awaitable<Result<tcp::socket>> AcceptPipe(const MailboxId& mailbox, std::uint64_t pipe);

  // The store-and-forward mailbox, on a mailbox opened on this connection.
  // Each sends one request and reads its answer, so use them on a
  // connection that does not Listen (events would come between).
  // A Failure becomes an error: kRefused when the mailbox is full, kNetwork
  // when the relay has storage trouble or no mailboxes (try later, or
  // elsewhere), kInvalidInput for a request the relay finds malformed.
  //
  // The streams of a mailbox, sorted by id, and its bytes used and allowed.
  awaitable<Result<MailboxHeadsView>> Heads(const MailboxId& mailbox);
  // Leaves blob i at first_seq + i; returns how many places were new (a
  // place already held keeps its first blob). Kept for good once it returns.
  awaitable<Result<std::uint32_t>> Put(const MailboxId& mailbox, const StreamId& stream, std::uint64_t first_seq,
                                       const std::vector<Bytes>& blobs);
  // Blobs of consecutive places from the lowest held seq >= from_seq, about
  // max_bytes of them (at least one); first_seq 0 when none is held there.
  awaitable<Result<BlobRun>> Get(const MailboxId& mailbox, const StreamId& stream, std::uint64_t from_seq,
                                 std::size_t max_bytes);

  // An empty message: keeps a quiet connection open.
  awaitable<Status> Ping();
  // Sends raw request bytes (tests: malformed requests).
  awaitable<Status> SendRaw(ByteView request);

  net::SecureChannel& channel() { return ch_; }

 private:
  explicit Connection(net::SecureChannel ch) : ch_(std::move(ch)) {}
  awaitable<Result<tcp::socket>> Pipe(Bytes request);
  net::SecureChannel ch_;
};

// The error a Failure event stands for, as a client reports it.
Error RelayFailure(const RelayEvent& event);

}  // namespace hearth::relay
