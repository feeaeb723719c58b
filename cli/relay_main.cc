// hearth-relay: a blind relay for Hearth devices that cannot reach each other
// directly. Usage and limits: docs/relay-protocol.md and `hearth-relay --help`.
#include <utility>  // before Asio's coroutine headers (g++ 12)

#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>

#include "net/relay/key_file.h"
#include "net/relay/server.h"
#include "net/relay/store.h"

int main(int argc, char** argv) {
  using namespace hearth;
  CLI::App app{"hearth-relay: joins Hearth devices that cannot reach each other, without reading a byte of what they send"};
  std::string listen = "0.0.0.0:" + std::to_string(relay::kDefaultRelayPort);
  std::string data;
  relay::RelayLimits limits;
  relay::StoreLimits store_limits;
  int expire_days = static_cast<int>(store_limits.expiry_s / 86400);
  double handshake_s = limits.handshake_timeout_ms / 1000.0, idle_s = limits.idle_timeout_ms / 1000.0,
         pipe_s = limits.pipe_timeout_ms / 1000.0;
  app.add_option("--listen", listen, "Address to listen on (default 0.0.0.0:47476)");
  app.add_option("--data", data, "Directory for the relay's key and mailboxes (relay.db)")->required();
  app.add_option("--max-connections-per-address", limits.connections_per_address, "Open connections per client address (default 32)")
      ->check(CLI::Range(1, 100000));
  app.add_option("--max-connections", limits.connections_total, "Open connections in all (default 4096)")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--max-listeners-per-mailbox", limits.listeners_per_mailbox, "Devices present in one mailbox (default 16)")
      ->check(CLI::Range(2, 1000));
  app.add_option("--max-message", limits.max_message, "Largest control message in bytes (default 65536)")
      ->check(CLI::Range(1024, 4 * 1024 * 1024));
  app.add_option("--max-store-message", limits.max_store_message,
                 "Largest message after a mailbox is opened, in bytes (default 2162688)")
      ->check(CLI::Range(65536, 4 * 1024 * 1024));
  app.add_option("--mailbox-bytes", store_limits.mailbox_bytes, "Blob bytes one mailbox may hold (default 268435456)")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 50));
  app.add_option("--expire-days", expire_days, "Days the relay keeps a blob (default 90)")->check(CLI::Range(1, 3650));
  app.add_option("--rate", limits.requests_per_second, "Requests per second per connection (default 20)")
      ->check(CLI::Range(0.1, 100000.0));
  app.add_option("--handshake-timeout", handshake_s, "Seconds for a client's handshake (default 10)")
      ->check(CLI::Range(0.1, 600.0));
  app.add_option("--idle-timeout", idle_s, "Seconds a quiet connection stays open (default 120)")
      ->check(CLI::Range(1.0, 86400.0));
  app.add_option("--pipe-timeout", pipe_s, "Seconds a device has to answer a pipe request (default 30)")
      ->check(CLI::Range(0.1, 600.0));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "hearth-relay: " << e.what() << " (see 'hearth-relay --help')\n";
    return 2;
  }
  limits.handshake_timeout_ms = static_cast<std::uint32_t>(handshake_s * 1000);
  limits.idle_timeout_ms = static_cast<std::uint32_t>(idle_s * 1000);
  limits.pipe_timeout_ms = static_cast<std::uint32_t>(pipe_s * 1000);
  store_limits.expiry_s = std::int64_t{expire_days} * 86400;

  auto at = net::ParseAddress(listen);
  if (!at.ok()) {
    std::cerr << "hearth-relay: " << at.error().message << "\n";
    return 1;
  }
  auto key = relay::LoadOrCreateKey(data);
  if (!key.ok()) {
    std::cerr << "hearth-relay: " << key.error().message << "\n";
    return ExitCode(key.error().code);
  }
  // Blobs kept for devices; expired ones go at the first sweep, at start.
  auto store = relay::MailboxStore::Open(std::filesystem::path(data) / "relay.db", store_limits);
  if (!store.ok()) {
    std::cerr << "hearth-relay: " << store.error().message << "\n";
    return ExitCode(store.error().code);
  }
  boost::asio::io_context io;
  relay::Server server(io, std::move(*key), limits, store->get());
  if (Status s = server.Listen(*at); !s.ok()) {
    std::cerr << "hearth-relay: " << s.error().message << "\n";
    return ExitCode(s.error().code);
  }
  // The first line is the address clients pin (give it to `hearth serve --relay`).
  std::cout << "Relay address: "
            << relay::FormatRelayAddress({net::FormatAddress(server.local_endpoint()), server.public_key()})
            << std::endl;
  if (at->address().is_unspecified()) {
    std::cout << "(Listening on every interface: clients use this machine's reachable address with the same port and key.)"
              << std::endl;
  }
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (!ec) server.Stop();
  });
  std::signal(SIGPIPE, SIG_IGN);
  server.Start();
  io.run();
  return 0;
}
