// Fuzz target: the wire framing and application-message reassembly of
// net/transport.h (ReadFrame, SecureChannel::Receive), run as the real
// coroutines over a real loopback TCP connection inside one io_context:
// the input is written to one end, which is then shut down, and the other
// end is read with the functions under test.
//
// Input: a mode byte, then
//   0  the raw bytes a peer sends; ReadFrame reads frames until the end.
//      Every frame must be the input's next 2-byte length and bytes.
//   1  the raw bytes a peer sends after a (fixed) Noise_NK handshake;
//      Receive reads application messages until it fails.
//   2  a byte choosing Receive's message limit, then the plaintext of the
//      application stream as pieces (2-byte length each); the peer's real
//      CipherState encrypts each piece into one frame. Receive must return
//      exactly the messages a plain reading of the stream gives, and fail
//      the same way where the stream ends or a length is over the limit.
#include <algorithm>
#include <utility>  // before Asio's coroutine headers (g++ 12)

#include <boost/asio/as_tuple.hpp>
#include <exception>
#include <vector>

#include "net/transport.h"
#include "tests/fuzz/fuzz_support.h"
#include "tests/fuzz/loopback.h"

namespace hearth::fuzz {
namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::seconds kRunLimit{20};

struct World {
  asio::io_context io;
  Loopback loopback{io};
};

World& TheWorld() {
  static World world;
  return world;
}

struct Outcome {
  std::vector<Bytes> messages;
  std::optional<Error> error;
  bool done = false;
};

// Writes `wire` and then shuts the sending direction, as a peer that has
// said everything.
awaitable<void> WriteAll(tcp::socket& socket, ByteView wire, bool& done) {
  auto [ec, n] = co_await asio::async_write(socket, asio::buffer(wire.data(), wire.size()), kTuple);
  (void)n;
  boost::system::error_code ignored;
  if (!ec) socket.shutdown(tcp::socket::shutdown_send, ignored);
  done = true;
}

awaitable<void> ReadFrames(tcp::socket& socket, Outcome& out) {
  while (true) {
    Result<Bytes> frame = co_await net::ReadFrame(socket);
    if (!frame.ok()) {
      out.error = frame.error();
      break;
    }
    out.messages.push_back(std::move(*frame));
  }
  out.done = true;
}

awaitable<void> ReceiveMessages(net::SecureChannel& channel, Outcome& out) {
  while (true) {
    Result<Bytes> message = co_await channel.Receive();
    if (!message.ok()) {
      out.error = message.error();
      break;
    }
    out.messages.push_back(std::move(*message));
  }
  out.done = true;
}

void Rethrow(std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
}

// Writes `wire` into one end of a fresh connection and runs `reader` on the
// other; `make_reader` gets the reading socket.
template <typename MakeReader>
void Exchange(ByteView wire, Outcome& out, MakeReader make_reader) {
  World& w = TheWorld();
  auto [dialer, accepted] = w.loopback.Pair();
  bool written = false;
  asio::co_spawn(w.io, WriteAll(dialer, wire, written), &Rethrow);
  make_reader(std::move(accepted), out);
  HEARTH_FUZZ_CHECK(RunUntil(w.io, out.done, kRunLimit), "the reader did not finish");
  // A reader that stopped early leaves the writer waiting: the reset ends it.
  CloseAbortively(dialer);
  HEARTH_FUZZ_CHECK(RunUntil(w.io, written, kRunLimit), "the writer did not finish");
}

void FuzzReadFrame(ByteView wire) {
  Outcome out;
  std::optional<tcp::socket> reading;
  Exchange(wire, out, [&](tcp::socket socket, Outcome& o) {
    reading.emplace(std::move(socket));
    asio::co_spawn(TheWorld().io, ReadFrames(*reading, o), &Rethrow);
  });
  // Every frame is the next length prefix and its bytes.
  std::size_t at = 0;
  for (const Bytes& frame : out.messages) {
    HEARTH_FUZZ_CHECK(at + 2 + frame.size() <= wire.size(), "a frame reaches past the bytes sent");
    const std::size_t len = (static_cast<std::size_t>(wire[at]) << 8) | wire[at + 1];
    HEARTH_FUZZ_CHECK(len == frame.size(), "a frame's size differs from its length prefix");
    HEARTH_FUZZ_CHECK(std::equal(frame.begin(), frame.end(), wire.begin() + static_cast<long>(at) + 2),
                      "a frame's bytes differ from those sent");
    at += 2 + frame.size();
  }
  HEARTH_FUZZ_CHECK(out.error && out.error->code == Errc::kNetwork, "ReadFrame ended without kNetwork");
  // It stops only where the bytes run out: no whole frame is left unread.
  if (wire.size() - at >= 2) {
    const std::size_t len = (static_cast<std::size_t>(wire[at]) << 8) | wire[at + 1];
    HEARTH_FUZZ_CHECK(wire.size() - at - 2 < len, "ReadFrame failed before a complete frame");
  }
  if (reading) CloseAbortively(*reading);
}

// Reads `wire` with SecureChannel::Receive after the fixed handshake.
Outcome ReceiveAll(ByteView wire, std::size_t max_message) {
  Outcome out;
  auto transports = MakeFixedTransports();
  HEARTH_FUZZ_CHECK(transports.ok(), "the fixed handshake failed");
  std::optional<net::SecureChannel> channel;
  Exchange(wire, out, [&](tcp::socket socket, Outcome& o) {
    channel.emplace(std::move(socket), std::move(transports->responder), crypto::PublicKey{});
    channel->set_max_message(max_message);
    asio::co_spawn(TheWorld().io, ReceiveMessages(*channel, o), &Rethrow);
  });
  HEARTH_FUZZ_CHECK(out.error.has_value(), "Receive ended without an error");
  const Errc code = out.error->code;
  HEARTH_FUZZ_CHECK(code == Errc::kNetwork || code == Errc::kIntegrity || code == Errc::kInvalidInput,
                    "Receive failed with an unexpected code");
  HEARTH_FUZZ_CHECK(channel->bytes_in() <= wire.size(), "Receive counted more bytes than were sent");
  CloseAbortively(channel->socket());
  return out;
}

// The stream as the specification reads it: 4-byte big-endian length and
// message, again and again; over the limit is kInvalidInput, a stream that
// ends inside a length or a message is kNetwork.
Outcome ReadStreamPlainly(ByteView stream, std::size_t max_message) {
  Outcome out;
  std::size_t at = 0;
  while (true) {
    if (stream.size() - at < 4) break;
    const std::size_t len = (static_cast<std::size_t>(stream[at]) << 24) |
                            (static_cast<std::size_t>(stream[at + 1]) << 16) |
                            (static_cast<std::size_t>(stream[at + 2]) << 8) | stream[at + 3];
    if (len > max_message) {
      out.error = MakeError(Errc::kInvalidInput, "");
      return out;
    }
    if (stream.size() - at - 4 < len) break;
    out.messages.emplace_back(stream.begin() + static_cast<long>(at) + 4,
                              stream.begin() + static_cast<long>(at + 4 + len));
    at += 4 + len;
  }
  out.error = MakeError(Errc::kNetwork, "");
  return out;
}

void FuzzReassembly(ByteView data) {
  Pieces pieces(data, 2);
  const std::uint8_t limit_byte = pieces.Byte().value_or(0);
  const std::size_t max_message = limit_byte == 0 ? net::kMaxAppMessage : std::size_t{limit_byte} * 37;
  // The sender's half of the same fixed session encrypts the stream.
  auto transports = MakeFixedTransports();
  HEARTH_FUZZ_CHECK(transports.ok(), "the fixed handshake failed");
  Bytes stream, wire;
  while (auto piece = pieces.Next()) {
    ByteView left = *piece;
    do {
      const std::size_t n = std::min(left.size(), net::noise::CipherState::kMaxPlaintextSize);
      auto sealed = transports->initiator.send.Encrypt({}, left.first(n));
      HEARTH_FUZZ_CHECK(sealed.ok(), "encrypting a piece failed");
      wire.push_back(static_cast<std::uint8_t>(sealed->size() >> 8));
      wire.push_back(static_cast<std::uint8_t>(sealed->size()));
      Append(wire, *sealed);
      Append(stream, left.first(n));
      left = left.subspan(n);
    } while (!left.empty());
  }
  const Outcome got = ReceiveAll(wire, max_message);
  const Outcome want = ReadStreamPlainly(stream, max_message);
  HEARTH_FUZZ_CHECK(got.messages == want.messages, "Receive reassembled other messages than were sent");
  HEARTH_FUZZ_CHECK(got.error->code == want.error->code, "Receive ended differently from the stream");
}

}  // namespace
}  // namespace hearth::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (!hearth::crypto::Init().ok()) std::abort();
  (void)hearth::fuzz::TheWorld();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hearth::fuzz;
  if (size == 0) return 0;
  const hearth::ByteView input(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      FuzzReadFrame(input);
      break;
    case 1:
      (void)ReceiveAll(input, hearth::net::kMaxAppMessage);
      break;
    default:
      FuzzReassembly(input);
      break;
  }
  return 0;
}
