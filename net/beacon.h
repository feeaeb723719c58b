// hearth::net — LAN discovery beacons, the pure part: building and recognizing them.
//
// While `hearth serve` runs, a node multicasts a small UDP datagram every few seconds
// saying "a device of some space listens on TCP port P here". Only devices holding the
// space's discovery key can tell which space; to anyone else each beacon is the magic
// "HRTH", a port and random-looking bytes, and two beacons are never alike. A match
// proves nothing: the receiver connects and the Noise handshake with its roster check
// authenticates the peer. Packet layout, tag derivation and the multicast groups are in
// docs/discovery.md.
//
// Sans-IO: no sockets and no clock; the caller passes the time. Thread-safe once
// crypto::Init() has returned.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/base/bytes.h"

namespace hearth::net {

inline constexpr std::size_t kBeaconSize = 31;
inline constexpr std::size_t kDiscoveryKeySize = 32;
inline constexpr std::uint64_t kBeaconWindowSeconds = 300;

// Where and how often beacons are sent (used by the serve loop).
inline constexpr std::string_view kBeaconGroupV4 = "239.255.72.84";  // local scope (RFC 2365)
inline constexpr std::string_view kBeaconGroupV6 = "ff02::4854";     // link-local scope
inline constexpr std::uint16_t kBeaconUdpPort = 47474;
inline constexpr int kBeaconIntervalSeconds = 2;

// A beacon announcing TCP `port`, for the window containing `unix_seconds`, with a
// fresh random nonce. `discovery_key` must be kDiscoveryKeySize bytes.
Bytes MakeBeacon(ByteView discovery_key, std::uint64_t unix_seconds, std::uint16_t port);

// The announced TCP port if `datagram` is a beacon made under `discovery_key` in the
// window containing `unix_seconds` or the one before or after (so clocks that disagree
// by less than one window still match). Anything else, including a datagram of the
// wrong size, magic or version, or a key that is not kDiscoveryKeySize bytes, gives
// nullopt. Never reads outside `datagram`.
std::optional<std::uint16_t> MatchBeacon(ByteView discovery_key, ByteView datagram,
                                         std::uint64_t unix_seconds);

}  // namespace hearth::net
