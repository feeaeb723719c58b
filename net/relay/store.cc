#include "net/relay/store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string_view>

namespace hearth::relay {

namespace {

constexpr int kSchemaVersion = 1;

// A row holds up to a MiB, so blobs is an ordinary rowid table (WITHOUT
// ROWID suits small rows) with the place as a unique key. `size` sits beside
// `data` so that quotas, expiry and Get decide without reading any blob.
constexpr const char* kSchema = R"sql(
CREATE TABLE blobs (
  id INTEGER PRIMARY KEY,
  mailbox BLOB NOT NULL,
  stream BLOB NOT NULL,
  seq INTEGER NOT NULL,
  stored_at INTEGER NOT NULL,
  size INTEGER NOT NULL,
  data BLOB NOT NULL,
  UNIQUE (mailbox, stream, seq)
);
CREATE INDEX blobs_by_age ON blobs (stored_at);
-- The blob bytes each mailbox holds; a mailbox with nothing has no row.
CREATE TABLE mailboxes (
  mailbox BLOB PRIMARY KEY,
  bytes INTEGER NOT NULL
) WITHOUT ROWID;
)sql";

// Expiry deletes in transactions of at most this many blobs, so that one
// sweep over a large backlog never holds a huge transaction.
constexpr int kExpireBatch = 4096;

Error FromSqlite(const SQLite::Exception& e) {
  switch (e.getErrorCode()) {
    case SQLITE_FULL:
      return MakeError(Errc::kStorage, "The relay's disk is full.");
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return MakeError(Errc::kIntegrity, "The relay's mailbox database is damaged.");
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return MakeError(Errc::kStorage, "The relay's mailbox database is busy in another process.");
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
      return MakeError(Errc::kStorage, "The relay's mailbox database cannot be opened for writing.");
    case SQLITE_IOERR:
      return MakeError(Errc::kStorage, "The disk failed while the relay read or wrote its mailboxes.");
    default:
      return MakeError(Errc::kStorage, std::string("The relay's mailbox database failed: ") + e.getErrorStr() + ".");
  }
}

// Runs `fn`, turning SQLite exceptions into Errors (an open transaction
// rolls back as the exception leaves its scope).
template <typename F>
auto Guard(F&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const SQLite::Exception& e) {
    return FromSqlite(e);
  }
}

Error DamagedRow() { return MakeError(Errc::kIntegrity, "The relay's mailbox database holds a damaged row."); }

template <std::size_t N>
void Bind(SQLite::Statement& q, int index, const std::array<std::uint8_t, N>& id) {
  q.bind(index, id.data(), static_cast<int>(N));
}

template <std::size_t N>
bool CopyBlob(const SQLite::Column& c, std::array<std::uint8_t, N>& out) {
  if (static_cast<std::size_t>(c.getBytes()) != N) return false;
  std::memcpy(out.data(), c.getBlob(), N);
  return true;
}

}  // namespace

struct MailboxStore::Impl {
  explicit Impl(std::unique_ptr<SQLite::Database> d) : db(std::move(d)) {}

  // A cached prepared statement, reset when the lease ends so that no read
  // stays open behind the caller's back.
  class Lease {
   public:
    Lease(Impl& impl, const char* sql) {
      auto& slot = impl.statements[sql];
      if (!slot) slot = std::make_unique<SQLite::Statement>(*impl.db, sql);
      q_ = slot.get();
    }
    ~Lease() { q_->tryReset(); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    SQLite::Statement& operator*() { return *q_; }
    SQLite::Statement* operator->() { return q_; }

   private:
    SQLite::Statement* q_;
  };

  std::uint64_t UsedBytes(const MailboxId& mailbox) {
    Lease q(*this, "SELECT bytes FROM mailboxes WHERE mailbox = ?");
    Bind(*q, 1, mailbox);
    if (!q->executeStep()) return 0;
    return static_cast<std::uint64_t>(std::max<std::int64_t>(0, q->getColumn(0).getInt64()));
  }

  bool HasStream(const MailboxId& mailbox, const StreamId& stream) {
    Lease q(*this, "SELECT 1 FROM blobs WHERE mailbox = ? AND stream = ? LIMIT 1");
    Bind(*q, 1, mailbox);
    Bind(*q, 2, stream);
    return q->executeStep();
  }

  // The stream after `after` (the first one when `after` is null) and its
  // lowest seq: one index seek, so listing streams never walks the blobs.
  std::optional<StreamHead> NextStream(const MailboxId& mailbox, const StreamId* after) {
    Lease q(*this, "SELECT stream, seq FROM blobs WHERE mailbox = ? AND stream > ? ORDER BY stream, seq LIMIT 1");
    Bind(*q, 1, mailbox);
    if (after) {
      Bind(*q, 2, *after);
    } else {
      q->bind(2, "", 0);  // an empty blob sorts before every id
    }
    if (!q->executeStep()) return std::nullopt;
    StreamHead h;
    if (!CopyBlob(q->getColumn(0), h.stream)) return std::nullopt;
    h.first = static_cast<std::uint64_t>(q->getColumn(1).getInt64());
    return h;
  }

  std::uint64_t LastSeq(const MailboxId& mailbox, const StreamId& stream) {
    Lease q(*this, "SELECT seq FROM blobs WHERE mailbox = ? AND stream = ? ORDER BY seq DESC LIMIT 1");
    Bind(*q, 1, mailbox);
    Bind(*q, 2, stream);
    if (!q->executeStep()) return 0;
    return static_cast<std::uint64_t>(q->getColumn(0).getInt64());
  }

  std::unique_ptr<SQLite::Database> db;
  std::map<std::string_view, std::unique_ptr<SQLite::Statement>> statements;  // keyed by literal SQL
};

MailboxStore::MailboxStore(std::unique_ptr<Impl> impl, StoreLimits limits) : impl_(std::move(impl)), limits_(limits) {}
MailboxStore::~MailboxStore() = default;

Result<std::unique_ptr<MailboxStore>> MailboxStore::Open(const std::filesystem::path& file, StoreLimits limits) {
  auto opened = Guard([&]() -> Result<std::unique_ptr<MailboxStore>> {
    // NOMUTEX: one thread uses the store (see store.h).
    const int flags = SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX;
    auto db = std::make_unique<SQLite::Database>(file.string(), flags, 10'000);
    db->exec("PRAGMA journal_mode=WAL");
    // An acknowledged Put must survive a power loss, not only a crash.
    db->exec("PRAGMA synchronous=FULL");
    db->exec("PRAGMA wal_autocheckpoint=8192");
    const int version = db->execAndGet("PRAGMA user_version").getInt();
    if (version > kSchemaVersion) {
      return MakeError(Errc::kRefused, "It was written by a newer hearth-relay; upgrade this one.");
    }
    if (version < kSchemaVersion) {
      SQLite::Transaction txn(*db, SQLite::TransactionBehavior::IMMEDIATE);
      if (db->execAndGet("PRAGMA user_version").getInt() == 0) db->exec(kSchema);
      db->exec("PRAGMA user_version=" + std::to_string(kSchemaVersion));
      txn.commit();
    }
    return std::unique_ptr<MailboxStore>(new MailboxStore(std::make_unique<Impl>(std::move(db)), limits));
  });
  if (!opened.ok()) {
    return MakeError(opened.error().code,
                     "Could not open the relay's mailboxes at " + file.string() + ": " + opened.error().message);
  }
  return opened;
}

Result<PutOutcome> MailboxStore::Put(const MailboxId& mailbox, const StreamId& stream, std::uint64_t first_seq,
                                     const std::vector<Bytes>& blobs, std::int64_t now_s) {
  const std::size_t n = blobs.size();
  // The last place, first_seq + n - 1, must not pass kMaxSeq (n <= 1024,
  // so the subtraction cannot wrap).
  if (first_seq < 1 || n < 1 || n > kMaxBlobsPerPut || first_seq - 1 > kMaxSeq - n) {
    return PutOutcome{RelayErrc::kMalformed, 0};
  }
  std::uint64_t all_bytes = 0;
  for (const Bytes& b : blobs) {
    if (b.empty() || b.size() > kMaxBlob) return PutOutcome{RelayErrc::kMalformed, 0};
    all_bytes += b.size();
  }
  const auto first = static_cast<std::int64_t>(first_seq);
  const auto last = static_cast<std::int64_t>(first_seq + n - 1);
  return Guard([&]() -> Result<PutOutcome> {
    SQLite::Transaction txn(*impl_->db, SQLite::TransactionBehavior::IMMEDIATE);
    if (!impl_->HasStream(mailbox, stream)) {
      // Count the streams held, but never past the limit.
      std::size_t streams = 0;
      std::optional<StreamHead> s = impl_->NextStream(mailbox, nullptr);
      while (s && streams < limits_.streams_per_mailbox) {
        ++streams;
        s = impl_->NextStream(mailbox, &s->stream);
      }
      if (streams >= limits_.streams_per_mailbox) return PutOutcome{RelayErrc::kTooMany, 0};
    }
    // Places already held keep their blobs; only the new ones count.
    std::vector<bool> fresh(n, true);
    std::uint64_t new_bytes = all_bytes;
    {
      Impl::Lease q(*impl_, "SELECT seq FROM blobs WHERE mailbox = ? AND stream = ? AND seq BETWEEN ? AND ?");
      Bind(*q, 1, mailbox);
      Bind(*q, 2, stream);
      q->bind(3, first);
      q->bind(4, last);
      while (q->executeStep()) {
        const std::int64_t seq = q->getColumn(0).getInt64();
        if (seq < first || seq > last) return DamagedRow();
        const auto i = static_cast<std::size_t>(seq - first);
        if (fresh[i]) {
          fresh[i] = false;
          new_bytes -= blobs[i].size();
        }
      }
    }
    const std::uint32_t added = static_cast<std::uint32_t>(std::count(fresh.begin(), fresh.end(), true));
    if (added == 0) return PutOutcome{{}, 0};  // all held already: a retry
    const std::uint64_t used = impl_->UsedBytes(mailbox);
    if (new_bytes > limits_.mailbox_bytes || used > limits_.mailbox_bytes - new_bytes) {
      return PutOutcome{RelayErrc::kQuotaFull, 0};
    }
    {
      Impl::Lease q(*impl_, "INSERT INTO blobs (mailbox, stream, seq, stored_at, size, data) VALUES (?, ?, ?, ?, ?, ?)");
      for (std::size_t i = 0; i < n; ++i) {
        if (!fresh[i]) continue;
        q->tryReset();
        Bind(*q, 1, mailbox);
        Bind(*q, 2, stream);
        q->bind(3, first + static_cast<std::int64_t>(i));
        q->bind(4, now_s);
        q->bind(5, static_cast<std::int64_t>(blobs[i].size()));
        q->bindNoCopy(6, blobs[i].data(), static_cast<int>(blobs[i].size()));
        q->exec();
      }
    }
    {
      Impl::Lease q(*impl_,
                    "INSERT INTO mailboxes (mailbox, bytes) VALUES (?, ?) "
                    "ON CONFLICT (mailbox) DO UPDATE SET bytes = bytes + excluded.bytes");
      Bind(*q, 1, mailbox);
      q->bind(2, static_cast<std::int64_t>(new_bytes));
      q->exec();
    }
    txn.commit();
    return PutOutcome{{}, added};
  });
}

Result<MailboxHeadsView> MailboxStore::Heads(const MailboxId& mailbox) {
  return Guard([&]() -> Result<MailboxHeadsView> {
    MailboxHeadsView v;
    v.bytes_quota = limits_.mailbox_bytes;
    v.bytes_used = impl_->UsedBytes(mailbox);
    // Puts keep a mailbox within streams_per_mailbox; should the operator
    // have lowered it since, the listing stops there too.
    std::optional<StreamHead> s = impl_->NextStream(mailbox, nullptr);
    while (s && v.streams.size() < limits_.streams_per_mailbox) {
      s->last = impl_->LastSeq(mailbox, s->stream);
      if (s->first < 1 || s->last < s->first) return DamagedRow();
      v.streams.push_back(*s);
      s = impl_->NextStream(mailbox, &s->stream);
    }
    return v;
  });
}

Result<BlobRun> MailboxStore::Get(const MailboxId& mailbox, const StreamId& stream, std::uint64_t from_seq,
                                  std::size_t max_bytes) {
  if (from_seq < 1) return MakeError(Errc::kInvalidInput, "Seqs count from 1.");
  if (from_seq > kMaxSeq) return BlobRun{};  // no place is held there
  const std::size_t budget = std::min(max_bytes, kMaxGetBytes);
  return Guard([&]() -> Result<BlobRun> {
    // First decide the run from the sizes, then read only the blobs kept.
    std::vector<std::pair<std::int64_t, std::size_t>> rows;  // rowid, size
    BlobRun run;
    {
      Impl::Lease q(*impl_,
                    "SELECT seq, size, id FROM blobs WHERE mailbox = ? AND stream = ? AND seq >= ? "
                    "ORDER BY seq LIMIT ?");
      Bind(*q, 1, mailbox);
      Bind(*q, 2, stream);
      q->bind(3, static_cast<std::int64_t>(from_seq));
      q->bind(4, static_cast<std::int64_t>(kMaxBlobsPerGet));
      std::size_t total = 0;
      while (q->executeStep()) {
        const std::int64_t seq = q->getColumn(0).getInt64();
        const std::int64_t size = q->getColumn(1).getInt64();
        if (seq < 1 || size < 1 || static_cast<std::uint64_t>(size) > kMaxBlob) return DamagedRow();
        if (rows.empty()) {
          run.first_seq = static_cast<std::uint64_t>(seq);
        } else if (static_cast<std::uint64_t>(seq) != run.first_seq + rows.size() ||
                   total + static_cast<std::size_t>(size) > budget) {
          break;  // a gap, or over the bytes (but the first blob always comes)
        }
        total += static_cast<std::size_t>(size);
        rows.emplace_back(q->getColumn(2).getInt64(), static_cast<std::size_t>(size));
      }
    }
    Impl::Lease q(*impl_, "SELECT data FROM blobs WHERE id = ?");
    for (const auto& [id, size] : rows) {
      q->tryReset();
      q->bind(1, id);
      if (!q->executeStep()) return DamagedRow();
      const SQLite::Column c = q->getColumn(0);
      if (static_cast<std::size_t>(c.getBytes()) != size) return DamagedRow();
      const auto* p = static_cast<const std::uint8_t*>(c.getBlob());
      run.blobs.emplace_back(p, p + size);
    }
    return run;
  });
}

Result<std::uint64_t> MailboxStore::Expire(std::int64_t now_s) {
  // Blobs stored before the cutoff are older than the expiry.
  const std::int64_t cutoff = now_s < INT64_MIN + limits_.expiry_s ? INT64_MIN : now_s - limits_.expiry_s;
  return Guard([&]() -> Result<std::uint64_t> {
    std::uint64_t removed = 0;
    while (true) {
      SQLite::Transaction txn(*impl_->db, SQLite::TransactionBehavior::IMMEDIATE);
      std::vector<std::int64_t> ids;
      std::map<MailboxId, std::int64_t> freed;
      {
        Impl::Lease q(*impl_, "SELECT id, mailbox, size FROM blobs WHERE stored_at < ? ORDER BY stored_at LIMIT ?");
        q->bind(1, cutoff);
        q->bind(2, kExpireBatch);
        while (q->executeStep()) {
          MailboxId m;
          if (!CopyBlob(q->getColumn(1), m)) return DamagedRow();
          ids.push_back(q->getColumn(0).getInt64());
          freed[m] += q->getColumn(2).getInt64();
        }
      }
      if (ids.empty()) break;
      {
        Impl::Lease q(*impl_, "DELETE FROM blobs WHERE id = ?");
        for (const std::int64_t id : ids) {
          q->tryReset();
          q->bind(1, id);
          q->exec();
        }
      }
      {
        Impl::Lease q(*impl_, "UPDATE mailboxes SET bytes = bytes - ? WHERE mailbox = ?");
        for (const auto& [m, bytes] : freed) {
          q->tryReset();
          q->bind(1, bytes);
          Bind(*q, 2, m);
          q->exec();
        }
      }
      {
        // Every blob has a byte at least, so no bytes left means no blobs.
        Impl::Lease q(*impl_, "DELETE FROM mailboxes WHERE mailbox = ? AND bytes <= 0");
        for (const auto& [m, bytes] : freed) {
          q->tryReset();
          Bind(*q, 1, m);
          q->exec();
        }
      }
      txn.commit();
      removed += ids.size();
      if (ids.size() < static_cast<std::size_t>(kExpireBatch)) break;
    }
    return removed;
  });
}

Result<std::uint64_t> MailboxStore::BytesUsed(const MailboxId& mailbox) {
  return Guard([&]() -> Result<std::uint64_t> { return impl_->UsedBytes(mailbox); });
}

}  // namespace hearth::relay
