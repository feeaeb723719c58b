-- Schema version 3: store item rows in the order they are first written.
-- Item ids are random, so keying the table on them scattered every new row
-- (a whole sealed item state) across the file: a bulk commit rewrote a page
-- per item. Now rows get an increasing row number and the random id lives in
-- a small unique index, so new items append and only index pages scatter.
CREATE TABLE items_v3 (
  pos     INTEGER PRIMARY KEY,
  id      INTEGER NOT NULL UNIQUE,
  kind    INTEGER NOT NULL,
  day     INTEGER NOT NULL,
  created INTEGER NOT NULL,
  author  INTEGER NOT NULL,
  live    INTEGER NOT NULL,
  state   BLOB    NOT NULL
);
INSERT INTO items_v3 (id, kind, day, created, author, live, state)
  SELECT id, kind, day, created, author, live, state FROM items ORDER BY created;
DROP TABLE items;
ALTER TABLE items_v3 RENAME TO items;
CREATE INDEX items_recent ON items (live, day DESC, created DESC);
CREATE INDEX items_by_kind ON items (kind, live);
