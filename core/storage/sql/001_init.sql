-- Hearth node database, schema version 1. Specified in docs/storage-schema.md.
-- Nothing readable is stored here: record bodies are ciphertext, item states
-- are sealed with the device's local key. The plaintext columns are ids,
-- kinds, day numbers, clocks and flags, used to sort and filter without
-- decrypting (see the threat model for what they reveal).

-- Small key/value settings: the hybrid clock, the schema's own bookkeeping.
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value BLOB NOT NULL
) WITHOUT ROWID;

-- Every feed's records, exactly as written or received (never re-encoded).
-- feed: the device's Ed25519 public key; seq: 1, 2, 3...; hash: BLAKE2b-256
-- of the body, kept to chain the next record without rehashing.
CREATE TABLE records (
  feed      BLOB    NOT NULL,
  seq       INTEGER NOT NULL,
  hash      BLOB    NOT NULL,
  body      BLOB    NOT NULL,
  signature BLOB    NOT NULL,
  UNIQUE (feed, seq)
);

-- The materialized model: one row per item, its CRDT state sealed with
-- XChaCha20-Poly1305 under a key derived from the local key. The other
-- columns are bound into the seal as associated data, so editing any of
-- them is detected when the row is opened.
-- kind: model::Kind; day: the day the item is about (days since 1970-01-01);
-- created: hybrid clock of its creation; author: member id; live: 1 unless
-- deleted or not yet created.
CREATE TABLE items (
  id      INTEGER PRIMARY KEY,
  kind    INTEGER NOT NULL,
  day     INTEGER NOT NULL,
  created INTEGER NOT NULL,
  author  INTEGER NOT NULL,
  live    INTEGER NOT NULL,
  state   BLOB    NOT NULL
);

-- `hearth list` reads newest first without a sort.
CREATE INDEX items_recent ON items (live, day DESC, created DESC);
