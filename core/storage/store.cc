#include "core/storage/store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <cstring>

#include "core/storage/schema_sql.h"  // generated from sql/*.sql

namespace hearth::storage {

namespace {

Error FromSqlite(const SQLite::Exception& e) {
  switch (e.getErrorCode()) {
    case SQLITE_FULL:
      return MakeError(Errc::kStorage, "The disk is full, so the last change was not saved (earlier ones are safe). Free some space and try again.");
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return MakeError(Errc::kIntegrity, "The database file is damaged.");
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return MakeError(Errc::kStorage, "The database is busy in another process; try again.");
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
      return MakeError(Errc::kStorage, "The database cannot be opened for writing.");
    case SQLITE_IOERR:
      return MakeError(Errc::kStorage, "The disk failed while reading or writing the database.");
    default:
      return MakeError(Errc::kStorage, std::string("The database failed: ") + e.getErrorStr() + ".");
  }
}

// Runs `fn`, turning SQLite exceptions into Errors.
template <typename F>
auto Guard(F&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const SQLite::Exception& e) {
    return FromSqlite(e);
  }
}

template <std::size_t N>
bool CopyBlob(const SQLite::Column& c, std::array<std::uint8_t, N>& out) {
  if (static_cast<std::size_t>(c.getBytes()) != N) return false;
  std::memcpy(out.data(), c.getBlob(), N);
  return true;
}

bool ReadSignature(const SQLite::Column& c, std::optional<crypto::Signature>& out) {
  if (c.getBytes() == 0) {
    out.reset();
    return true;
  }
  out.emplace();
  return CopyBlob(c, *out);
}

Bytes BlobBytes(const SQLite::Column& c) {
  const auto* p = static_cast<const std::uint8_t*>(c.getBlob());
  return Bytes(p, p + c.getBytes());
}

std::int64_t AsSigned(std::uint64_t v) { return static_cast<std::int64_t>(v); }
std::uint64_t AsUnsigned(std::int64_t v) { return static_cast<std::uint64_t>(v); }

Error DamagedRow() { return MakeError(Errc::kIntegrity, "The database holds a damaged row."); }

ItemRow ReadItem(SQLite::Statement& s) {
  ItemRow r;
  r.id = AsUnsigned(s.getColumn(0).getInt64());
  r.kind = static_cast<std::uint32_t>(s.getColumn(1).getInt64());
  r.day = s.getColumn(2).getInt64();
  r.created = AsUnsigned(s.getColumn(3).getInt64());
  r.author = AsUnsigned(s.getColumn(4).getInt64());
  r.live = s.getColumn(5).getInt64() != 0;
  r.state = BlobBytes(s.getColumn(6));
  return r;
}

}  // namespace

// A compiled statement borrowed from the store's cache for one call: reset and
// unbound when the lease ends, so it never holds a read snapshot open between
// calls. A statement already in use further up the stack (a callback that
// queries again) gets a fresh, uncached copy.
class Store::Lease {
 public:
  Lease(Store& store, const std::string& sql) {
    auto& slot = store.statements_[sql];
    if (!slot.stmt) slot.stmt = std::make_unique<SQLite::Statement>(*store.db_, sql);
    if (slot.busy) {
      own_ = std::make_unique<SQLite::Statement>(*store.db_, sql);
      q = own_.get();
    } else {
      slot.busy = true;
      busy_ = &slot.busy;
      q = slot.stmt.get();
    }
  }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  ~Lease() {
    if (busy_ == nullptr) return;
    q->tryReset();
    q->clearBindings();
    *busy_ = false;
  }
  SQLite::Statement* q;

 private:
  std::unique_ptr<SQLite::Statement> own_;
  bool* busy_ = nullptr;
};

Store::Store(std::unique_ptr<SQLite::Database> db) : db_(std::move(db)) {}
Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::Open(const std::filesystem::path& file, bool create) {
  return Guard([&]() -> Result<std::unique_ptr<Store>> {
    if (!create && !std::filesystem::exists(file)) {
      return MakeError(Errc::kNotFound, "The database " + file.string() + " is missing.");
    }
    // NOMUTEX: a Store is used from one thread (see store.h), so SQLite's own
    // locking of the connection is pure overhead.
    int flags = SQLite::OPEN_READWRITE | SQLite::OPEN_NOMUTEX | (create ? SQLite::OPEN_CREATE : 0);
    auto db = std::make_unique<SQLite::Database>(file.string(), flags, 10'000);
    db->exec("PRAGMA journal_mode=WAL");
    db->exec("PRAGMA synchronous=FULL");
    db->exec("PRAGMA secure_delete=ON");
    db->exec("PRAGMA cache_size=-32768");  // 32 MiB of page cache, allocated as used
    db->exec("PRAGMA wal_autocheckpoint=8192");
    db->exec("PRAGMA mmap_size=1073741824");
    const int version = db->execAndGet("PRAGMA user_version").getInt();
    if (version > kSchemaVersion) {
      return MakeError(Errc::kRefused,
                       "This home was written by a newer Hearth; upgrade Hearth to open it.");
    }
    if (version < kSchemaVersion) {
      SQLite::Transaction txn(*db, SQLite::TransactionBehavior::IMMEDIATE);
      const int now = db->execAndGet("PRAGMA user_version").getInt();
      for (int v = now; v < kSchemaVersion; ++v) db->exec(kMigrations[v]);
      db->exec("PRAGMA user_version=" + std::to_string(kSchemaVersion));
      txn.commit();
    }
    return std::unique_ptr<Store>(new Store(std::move(db)));
  });
}

Store::Transaction::~Transaction() {
  if (store_ == nullptr) return;
  try {
    store_->db_->exec("ROLLBACK");
  } catch (const SQLite::Exception&) {
    // Nothing to roll back (SQLite already did after a failure).
  }
}

void Store::Transaction::Rollback() {
  if (store_ == nullptr) return;
  try {
    store_->db_->exec("ROLLBACK");
  } catch (const SQLite::Exception&) {
    // Nothing to roll back.
  }
  store_ = nullptr;
}

Status Store::Transaction::Commit() {
  Store* s = store_;
  return Guard([&]() -> Status {
    s->db_->exec("COMMIT");
    store_ = nullptr;
    return {};
  });
}

Result<Store::Transaction> Store::Begin() {
  return Guard([&]() -> Result<Transaction> {
    db_->exec("BEGIN IMMEDIATE");
    return Transaction(*this);
  });
}

Result<std::optional<FeedHead>> Store::Head(const feed::FeedId& feed) {
  return Guard([&]() -> Result<std::optional<FeedHead>> {
    Lease lease(*this, "SELECT seq, hash FROM records WHERE feed = ? ORDER BY seq DESC LIMIT 1");
    SQLite::Statement& q = *lease.q;
    q.bind(1, feed.data(), static_cast<int>(feed.size()));
    if (!q.executeStep()) return std::optional<FeedHead>();
    FeedHead h;
    h.seq = AsUnsigned(q.getColumn(0).getInt64());
    if (!CopyBlob(q.getColumn(1), h.hash)) return DamagedRow();
    return std::optional<FeedHead>(h);
  });
}

Result<std::vector<feed::FeedId>> Store::Feeds() {
  return Guard([&]() -> Result<std::vector<feed::FeedId>> {
    // One index seek per feed (a skip scan), not a walk over every record:
    // sync asks for the feeds on every announcement, and history grows.
    Lease lease(*this,
                "WITH RECURSIVE f(feed) AS (SELECT min(feed) FROM records UNION ALL "
                "SELECT (SELECT min(feed) FROM records WHERE feed > f.feed) FROM f WHERE f.feed IS NOT NULL) "
                "SELECT feed FROM f WHERE feed IS NOT NULL");
    SQLite::Statement& q = *lease.q;
    std::vector<feed::FeedId> out;
    while (q.executeStep()) {
      feed::FeedId f;
      if (!CopyBlob(q.getColumn(0), f)) return DamagedRow();
      out.push_back(f);
    }
    return out;
  });
}

Status Store::PutRecord(const feed::FeedId& feed, std::uint64_t seq, const crypto::Digest& hash,
                        const feed::Record& record) {
  return Guard([&]() -> Status {
    Lease lease(*this, "INSERT INTO records (feed, seq, hash, body, signature) VALUES (?, ?, ?, ?, ?)");
    SQLite::Statement& q = *lease.q;
    q.bind(1, feed.data(), static_cast<int>(feed.size()));
    q.bind(2, AsSigned(seq));
    q.bind(3, hash.data(), static_cast<int>(hash.size()));
    q.bind(4, record.body.data(), static_cast<int>(record.body.size()));
    if (record.signature) {
      q.bind(5, record.signature->data(), static_cast<int>(record.signature->size()));
    } else {
      q.bind(5, "", 0);  // an empty blob: unsigned (covered by a later record)
    }
    q.exec();
    return {};
  });
}

Result<std::optional<StoredRecord>> Store::GetRecord(const feed::FeedId& feed, std::uint64_t seq) {
  return Guard([&]() -> Result<std::optional<StoredRecord>> {
    Lease lease(*this, "SELECT seq, hash, body, signature FROM records WHERE feed = ? AND seq = ?");
    SQLite::Statement& q = *lease.q;
    q.bind(1, feed.data(), static_cast<int>(feed.size()));
    q.bind(2, AsSigned(seq));
    if (!q.executeStep()) return std::optional<StoredRecord>();
    StoredRecord r;
    r.seq = AsUnsigned(q.getColumn(0).getInt64());
    r.record.body = BlobBytes(q.getColumn(2));
    if (!CopyBlob(q.getColumn(1), r.hash) || !ReadSignature(q.getColumn(3), r.record.signature)) {
      return DamagedRow();
    }
    return std::optional<StoredRecord>(std::move(r));
  });
}

Status Store::ForEachRecord(const feed::FeedId& feed, std::uint64_t from_seq,
                            const std::function<Status(StoredRecord&&)>& fn) {
  return ScanRecords(feed, from_seq, -1, fn);
}

Result<std::vector<StoredRecord>> Store::RecordRange(const feed::FeedId& feed, std::uint64_t from_seq,
                                                     int limit) {
  std::vector<StoredRecord> out;
  HEARTH_TRY(ScanRecords(feed, from_seq, limit, [&](StoredRecord&& r) -> Status {
    out.push_back(std::move(r));
    return {};
  }));
  return out;
}

Status Store::ScanRecords(const feed::FeedId& feed, std::uint64_t from_seq, int limit,
                          const std::function<Status(StoredRecord&&)>& fn) {
  return Guard([&]() -> Status {
    // LIMIT -1: no limit.
    Lease lease(*this,
                "SELECT seq, hash, body, signature FROM records WHERE feed = ? AND seq >= ? "
                "ORDER BY seq LIMIT ?");
    SQLite::Statement& q = *lease.q;
    q.bind(1, feed.data(), static_cast<int>(feed.size()));
    q.bind(2, AsSigned(from_seq));
    q.bind(3, limit);
    while (q.executeStep()) {
      StoredRecord r;
      r.seq = AsUnsigned(q.getColumn(0).getInt64());
      r.record.body = BlobBytes(q.getColumn(2));
      if (!CopyBlob(q.getColumn(1), r.hash) || !ReadSignature(q.getColumn(3), r.record.signature)) {
        return DamagedRow();
      }
      HEARTH_TRY(fn(std::move(r)));
    }
    return {};
  });
}

Result<std::uint64_t> Store::RecordCount() {
  return Guard([&]() -> Result<std::uint64_t> {
    return AsUnsigned(db_->execAndGet("SELECT count(*) FROM records").getInt64());
  });
}

Result<std::optional<ItemRow>> Store::GetItem(std::uint64_t id) {
  return Guard([&]() -> Result<std::optional<ItemRow>> {
    Lease lease(*this, "SELECT id, kind, day, created, author, live, state FROM items WHERE id = ?");
    SQLite::Statement& q = *lease.q;
    q.bind(1, AsSigned(id));
    if (!q.executeStep()) return std::optional<ItemRow>();
    return std::optional<ItemRow>(ReadItem(q));
  });
}

Status Store::PutItem(const ItemRow& r) {
  return Guard([&]() -> Status {
    // An upsert keeps the row where it is (see sql/003_items_in_write_order.sql).
    Lease lease(*this,
                "INSERT INTO items (id, kind, day, created, author, live, state) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, day = excluded.day, "
                "created = excluded.created, author = excluded.author, live = excluded.live, "
                "state = excluded.state");
    SQLite::Statement& q = *lease.q;
    q.bind(1, AsSigned(r.id));
    q.bind(2, static_cast<std::int64_t>(r.kind));
    q.bind(3, r.day);
    q.bind(4, AsSigned(r.created));
    q.bind(5, AsSigned(r.author));
    q.bind(6, r.live ? 1 : 0);
    q.bind(7, r.state.data(), static_cast<int>(r.state.size()));
    q.exec();
    return {};
  });
}

Status Store::ScanItems(const ItemQuery& iq, const std::function<bool(ItemRow&&)>& fn) {
  return Guard([&]() -> Status {
    std::string sql = "SELECT id, kind, day, created, author, live, state FROM items WHERE ";
    sql += iq.live_only ? "live = 1" : "1";
    if (!iq.kinds.empty()) {
      sql += " AND kind IN (";
      for (std::size_t i = 0; i < iq.kinds.size(); ++i) sql += i ? ",?" : "?";
      sql += ")";
    }
    if (iq.from_day) sql += " AND day >= ?";
    if (iq.to_day) sql += " AND day <= ?";
    if (iq.author) sql += " AND author = ?";
    if (iq.newest_first) sql += " ORDER BY live DESC, day DESC, created DESC";
    Lease lease(*this, sql);
    SQLite::Statement& q = *lease.q;
    int i = 1;
    for (std::uint32_t k : iq.kinds) q.bind(i++, static_cast<std::int64_t>(k));
    if (iq.from_day) q.bind(i++, *iq.from_day);
    if (iq.to_day) q.bind(i++, *iq.to_day);
    if (iq.author) q.bind(i++, AsSigned(*iq.author));
    while (q.executeStep()) {
      if (!fn(ReadItem(q))) break;
    }
    return {};
  });
}

Result<std::vector<std::uint64_t>> Store::IdsInRange(std::uint64_t lo, std::uint64_t hi, int limit) {
  return Guard([&]() -> Result<std::vector<std::uint64_t>> {
    // lo and hi share their top bit (callers pass a hex prefix range), so the
    // signed range is contiguous.
    Lease lease(*this, "SELECT id FROM items WHERE id BETWEEN ? AND ? AND live = 1 LIMIT ?");
    SQLite::Statement& q = *lease.q;
    q.bind(1, AsSigned(lo));
    q.bind(2, AsSigned(hi));
    q.bind(3, limit);
    std::vector<std::uint64_t> out;
    while (q.executeStep()) out.push_back(AsUnsigned(q.getColumn(0).getInt64()));
    return out;
  });
}

Result<std::optional<Bytes>> Store::GetMeta(const std::string& key) {
  return Guard([&]() -> Result<std::optional<Bytes>> {
    Lease lease(*this, "SELECT value FROM meta WHERE key = ?");
    SQLite::Statement& q = *lease.q;
    q.bind(1, key);
    if (!q.executeStep()) return std::optional<Bytes>();
    return std::optional<Bytes>(BlobBytes(q.getColumn(0)));
  });
}

Status Store::PutMeta(const std::string& key, ByteView value) {
  return Guard([&]() -> Status {
    Lease lease(*this, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)");
    SQLite::Statement& q = *lease.q;
    q.bind(1, key);
    q.bind(2, value.data(), static_cast<int>(value.size()));
    q.exec();
    return {};
  });
}

Result<std::vector<std::pair<std::string, Bytes>>> Store::MetaWithPrefix(const std::string& prefix) {
  return Guard([&]() -> Result<std::vector<std::pair<std::string, Bytes>>> {
    // Keys are ASCII; every key with the prefix sorts in [prefix, prefix + 0x7f).
    Lease lease(*this, "SELECT key, value FROM meta WHERE key >= ? AND key < ? ORDER BY key");
    SQLite::Statement& q = *lease.q;
    q.bind(1, prefix);
    q.bind(2, prefix + '\x7f');
    std::vector<std::pair<std::string, Bytes>> out;
    while (q.executeStep()) out.emplace_back(q.getColumn(0).getString(), BlobBytes(q.getColumn(1)));
    return out;
  });
}

Result<std::int64_t> Store::DataVersion() {
  return Guard([&]() -> Result<std::int64_t> { return db_->execAndGet("PRAGMA data_version").getInt64(); });
}

}  // namespace hearth::storage
