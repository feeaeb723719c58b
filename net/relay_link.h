// hearth::net relay link — what a node does with a relay's store-and-forward
// mailboxes (docs/relay-protocol.md, "A space's mailboxes").
//
// Each feed of a mailbox is one stream: its id is a keyed hash of the feed id,
// its blobs are the feed's records, each sealed under the mailbox's seal key
// with the stream and place as associated data. So the relay sees opaque ids
// and sizes; a blob it changes, moves to another place, or serves from
// another stream or mailbox does not open, and nothing of it is applied. What
// opens still goes through Node::ApplyRecords (chain, signatures, authorship)
// like a record from a peer.
#pragma once

#include <utility>  // before Asio's coroutine headers (g++ 12)

#include <string>
#include <vector>

#include "core/node/node.h"
#include "net/relay/client.h"

namespace hearth::net {

// The stream id of `feed` in a mailbox.
relay::StreamId StreamOf(const node::MailboxKeys& keys, const feed::FeedId& feed);
// A record as left in a mailbox at `seq` of `stream`, and back.
Bytes SealRecord(const node::MailboxKeys& keys, const relay::StreamId& stream, std::uint64_t seq,
                 const feed::Record& record);
Result<feed::Record> OpenRecord(const node::MailboxKeys& keys, const relay::StreamId& stream, std::uint64_t seq,
                                ByteView blob);

struct MailboxReport {
  std::uint64_t put = 0;      // records left in the mailbox
  std::uint64_t fetched = 0;  // records taken from it and applied here
  std::vector<std::string> notes;  // things the user should know (records the relay no longer holds)
  // Set when the exchange stopped early: the relay failed or broke the
  // protocol (kNetwork, kInvalidInput), refused (e.g. its mailbox is full,
  // after what fitted was left), or served something that failed its checks
  // (kIntegrity: nothing of that batch was applied). What was done before
  // stays done and is counted above.
  std::optional<Error> failure;
};

// Opens the mailbox on `connection`, fetches what this device lacks and
// leaves what the mailbox lacks.
awaitable<MailboxReport> ExchangeMailbox(node::Node& node, relay::Connection& connection,
                                                 const node::MailboxKeys& keys);

}  // namespace hearth::net
