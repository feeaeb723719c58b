#include "tests/fuzz/loopback.h"

#include <cstdio>
#include <cstdlib>
#include <optional>

namespace hearth::fuzz {

Loopback::Loopback(asio::io_context& io) : io_(io), acceptor_(io) {
  const tcp::endpoint at(asio::ip::make_address("127.0.0.1"), 0);
  acceptor_.open(at.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(at);
  acceptor_.listen();
  endpoint_ = acceptor_.local_endpoint();
}

std::pair<tcp::socket, tcp::socket> Loopback::Pair() {
  // Asynchronous, so that a signal (libFuzzer's timers send some) cannot
  // interrupt a blocking connect or accept.
  tcp::socket dialer(io_), accepted(io_);
  std::optional<boost::system::error_code> connected, took;
  dialer.async_connect(endpoint_, [&](const boost::system::error_code& ec) { connected = ec; });
  acceptor_.async_accept(accepted, [&](const boost::system::error_code& ec) { took = ec; });
  while (!connected || !took) {
    if (io_.stopped()) io_.restart();
    io_.run_one();
  }
  if (*connected || *took) {
    const boost::system::error_code& ec = *connected ? *connected : *took;
    std::fprintf(stderr, "fuzz: a loopback connection failed: %s\n", ec.message().c_str());
    std::abort();
  }
  return {std::move(dialer), std::move(accepted)};
}

void CloseAbortively(tcp::socket& socket) {
  boost::system::error_code ec;
  if (!socket.is_open()) return;
  socket.set_option(asio::socket_base::linger(true, 0), ec);
  socket.close(ec);
}

bool RunUntil(asio::io_context& io, const bool& done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    if (io.stopped()) io.restart();
    io.run_one_for(deadline - now);
  }
  return true;
}

}  // namespace hearth::fuzz
