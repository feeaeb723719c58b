// hearth::relay::MailboxStore — the relay's store-and-forward mailbox: blobs
// at places (mailbox, stream, seq) in one SQLite file, with a byte quota per
// mailbox, a bound on streams, and expiry. Blobs are opaque: sealed by the
// devices, never read here. No sockets; time comes from the caller (the
// relay's wall clock, in seconds) so that tests can move it.
//
// Used from one thread (the relay's io_context). Every write is one
// transaction with synchronous=FULL: once a call returns, what it kept
// survives a crash or a power loss.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

#include "core/base/bytes.h"
#include "core/base/result.h"
#include "net/relay/protocol.h"

namespace hearth::relay {

// What became of a Put that the database did not fail.
struct PutOutcome {
  // Zero when kept; otherwise why nothing was kept: kMalformed (the request
  // breaks a rule), kQuotaFull (over the mailbox's bytes) or kTooMany (one
  // stream more than a mailbox may hold).
  RelayErrc refused{};
  std::uint32_t added = 0;  // places that were new (the others kept their blobs)
  bool ok() const { return refused == RelayErrc{}; }
};

class MailboxStore {
 public:
  // Opens (or creates) the store at `file`. kStorage when it cannot,
  // kRefused when a newer relay wrote it.
  static Result<std::unique_ptr<MailboxStore>> Open(const std::filesystem::path& file, StoreLimits limits);
  ~MailboxStore();
  MailboxStore(const MailboxStore&) = delete;
  MailboxStore& operator=(const MailboxStore&) = delete;

  // Keeps blob i at first_seq + i, all in one transaction or nothing. An
  // error (kStorage, kIntegrity) means the database failed and nothing was kept.
  Result<PutOutcome> Put(const MailboxId& mailbox, const StreamId& stream, std::uint64_t first_seq,
                         const std::vector<Bytes>& blobs, std::int64_t now_s);
  // The streams of a mailbox, sorted by id (an unknown mailbox has none).
  Result<MailboxHeadsView> Heads(const MailboxId& mailbox);
  // Blobs at consecutive places from the lowest held seq >= from_seq: at
  // most kMaxBlobsPerGet, stopping at the first missing place and before the
  // bytes would pass min(max_bytes, kMaxGetBytes), but at least one blob.
  Result<BlobRun> Get(const MailboxId& mailbox, const StreamId& stream, std::uint64_t from_seq,
                      std::size_t max_bytes);
  // Deletes the blobs stored more than limits.expiry_s before `now_s`;
  // returns how many.
  Result<std::uint64_t> Expire(std::int64_t now_s);
  Result<std::uint64_t> BytesUsed(const MailboxId& mailbox);

  const StoreLimits& limits() const { return limits_; }

 private:
  struct Impl;
  MailboxStore(std::unique_ptr<Impl> impl, StoreLimits limits);
  std::unique_ptr<Impl> impl_;
  StoreLimits limits_;
};

}  // namespace hearth::relay
