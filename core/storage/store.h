// hearth::storage — the node's SQLite database (through SQLiteCpp).
//
// WAL mode, synchronous=FULL, one IMMEDIATE transaction per local change or
// received batch. The schema lives in core/storage/sql/*.sql (numbered
// migrations, applied in order by user_version) and is specified in
// docs/storage-schema.md. Store only moves bytes: record bodies arrive already
// sealed and item states already encrypted (see node). SQLite exceptions stop
// here and become Errors: a full disk is kStorage, a damaged file kIntegrity.
//
// Threading: one Store per thread; several processes may open the same file.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/base/bytes.h"
#include "core/base/result.h"
#include "core/crypto/crypto.h"
#include "core/feed/record.h"

namespace SQLite {
class Database;
class Statement;
}

namespace hearth::storage {

struct FeedHead {
  std::uint64_t seq = 0;
  crypto::Digest hash{};
};

struct StoredRecord {
  std::uint64_t seq = 0;
  crypto::Digest hash{};
  feed::Record record;
};

struct ItemRow {
  std::uint64_t id = 0;
  std::uint32_t kind = 0;
  std::int64_t day = 0;
  std::uint64_t created = 0;
  std::uint64_t author = 0;
  bool live = false;
  Bytes state;  // nonce || ciphertext
};

struct ItemQuery {
  std::vector<std::uint32_t> kinds;  // empty: every kind
  std::optional<std::int64_t> from_day, to_day;
  std::optional<std::uint64_t> author;
  bool live_only = true;
  bool newest_first = true;  // false: any order (lets SQLite use the kind index)
};

class Store {
 public:
  // Opens (or with `create`, creates) the database and applies migrations.
  static Result<std::unique_ptr<Store>> Open(const std::filesystem::path& file, bool create);
  ~Store();

  // An IMMEDIATE transaction; rolled back unless Commit() succeeds.
  class Transaction {
   public:
    explicit Transaction(Store& store) : store_(&store) {}
    Transaction(Transaction&& o) noexcept : store_(o.store_) { o.store_ = nullptr; }
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    Transaction& operator=(Transaction&&) = delete;
    ~Transaction();
    Status Commit();
    // Rolls back now (the destructor would do it later).
    void Rollback();

   private:
    Store* store_;
  };
  Result<Transaction> Begin();

  Result<std::optional<FeedHead>> Head(const feed::FeedId& feed);
  Result<std::vector<feed::FeedId>> Feeds();
  Status PutRecord(const feed::FeedId& feed, std::uint64_t seq, const crypto::Digest& hash,
                   const feed::Record& record);
  Result<std::optional<StoredRecord>> GetRecord(const feed::FeedId& feed, std::uint64_t seq);
  // Calls `fn` for each record of `feed` in seq order from `from_seq`; stops at the first error.
  Status ForEachRecord(const feed::FeedId& feed, std::uint64_t from_seq,
                       const std::function<Status(StoredRecord&&)>& fn);
  Result<std::uint64_t> RecordCount();

  Result<std::optional<ItemRow>> GetItem(std::uint64_t id);
  Status PutItem(const ItemRow& row);
  // Rows matching `q`, newest first (day, then creation) unless !q.newest_first.
  // `fn` returns false to stop.
  Status ScanItems(const ItemQuery& q, const std::function<bool(ItemRow&&)>& fn);
  // Ids in [lo, hi] (unsigned), at most `limit` of them.
  Result<std::vector<std::uint64_t>> IdsInRange(std::uint64_t lo, std::uint64_t hi, int limit);

  // Up to `limit` records of `feed` from `from_seq` on, in seq order.
  Result<std::vector<StoredRecord>> RecordRange(const feed::FeedId& feed, std::uint64_t from_seq,
                                                int limit);

  Result<std::optional<Bytes>> GetMeta(const std::string& key);
  Status PutMeta(const std::string& key, ByteView value);
  // Every (key, value) whose key starts with `prefix`, in key order.
  Result<std::vector<std::pair<std::string, Bytes>>> MetaWithPrefix(const std::string& prefix);
  // Changes whenever another connection commits (PRAGMA data_version).
  Result<std::int64_t> DataVersion();

 private:
  explicit Store(std::unique_ptr<SQLite::Database> db);
  class Lease;
  Status ScanRecords(const feed::FeedId& feed, std::uint64_t from_seq, int limit,
                     const std::function<Status(StoredRecord&&)>& fn);
  // Statements are compiled once per connection and reused: preparing costs
  // more than most of the queries themselves.
  struct CachedStatement {
    std::unique_ptr<SQLite::Statement> stmt;
    bool busy = false;
  };

  std::unique_ptr<SQLite::Database> db_;
  std::unordered_map<std::string, CachedStatement> statements_;  // destroyed before db_
};

}  // namespace hearth::storage
