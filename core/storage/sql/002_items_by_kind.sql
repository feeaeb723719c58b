-- Schema version 2: find items of one kind (the roster: members and devices)
-- without walking every item. Opening a node reads the roster, so this keeps
-- start-up independent of the journal's size.
CREATE INDEX items_by_kind ON items (kind, live);
