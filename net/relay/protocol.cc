#include "net/relay/protocol.h"

#include <cstring>

namespace hearth::relay {

std::string FormatRelayAddress(const RelayAddress& address) {
  return address.host_port + "/" + ToHex(address.key);
}

Result<RelayAddress> ParseRelayAddress(std::string_view text) {
  const auto bad = [&] {
    return MakeError(Errc::kInvalidInput, "'" + std::string(text.substr(0, 200)) +
                                              "' is not a relay address (HOST:PORT/KEY, as hearth-relay prints it).");
  };
  const auto slash = text.rfind('/');
  if (slash == std::string_view::npos || text.size() > 300) return bad();
  const auto key = FromHex(text.substr(slash + 1));
  const std::string_view host_port = text.substr(0, slash);
  if (!key || key->size() != crypto::kKeySize || host_port.find(':') == std::string_view::npos) return bad();
  RelayAddress a;
  a.host_port = std::string(host_port);
  std::memcpy(a.key.data(), key->data(), a.key.size());
  return a;
}

MailboxId MailboxOf(const crypto::PublicKey& key) {
  const crypto::Digest d = crypto::Hash({AsBytes("hearth/relay-mailbox/v1"), key});
  MailboxId id;
  std::memcpy(id.data(), d.data(), id.size());
  return id;
}

Bytes OpenChallenge(ByteView handshake_hash) {
  constexpr std::string_view kContext = "hearth/relay-open/v1";
  Bytes m(kContext.size() + handshake_hash.size());
  std::memcpy(m.data(), kContext.data(), kContext.size());
  if (!handshake_hash.empty()) std::memcpy(m.data() + kContext.size(), handshake_hash.data(), handshake_hash.size());
  return m;
}

}  // namespace hearth::relay
