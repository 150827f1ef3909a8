-- The customer directory and the dashboard's writes (SQLite): search, filters and sorts of
-- the customer list, tags, staff notes, and imports started from the dashboard.
-- Keep in step with ../postgres.

-- Names folded for prefix search. Every write sets them from Rust (full Unicode lowercase,
-- so Armenian capitals match); this backfill uses SQL lower(), exact for ASCII only.
ALTER TABLE customers ADD COLUMN name_key TEXT;
ALTER TABLE customers ADD COLUMN surname_key TEXT;
UPDATE customers SET
    name_key = NULLIF(lower(trim(coalesce(first_name, '') || ' ' || coalesce(last_name, ''))), ''),
    surname_key = NULLIF(lower(trim(coalesce(last_name, ''))), '');
CREATE INDEX customers_store_name ON customers(store_id, name_key, id);
CREATE INDEX customers_store_surname ON customers(store_id, surname_key);

-- The customer list's sort orders; the id breaks ties for keyset pagination.
CREATE INDEX customers_store_last_order ON customers(store_id, last_order_at, id);
CREATE INDEX customers_store_spent ON customers(store_id, total_spent_minor, id);
CREATE INDEX customers_store_orders_count ON customers(store_id, orders_count, id);
DROP INDEX customers_account_manager;
CREATE INDEX customers_account_manager ON customers(store_id, account_manager_id, last_order_at, id);

-- Searching by a source's id without naming the source.
CREATE INDEX customer_identities_store_external ON customer_identities(store_id, external_id);

-- Orders by number, for the orders page's search.
CREATE INDEX orders_store_number ON orders(store_id, order_number);

-- One row per customer and tag, written with customers.tags, for the tag filter.
CREATE TABLE customer_tags (
    store_id     TEXT NOT NULL,
    tag          TEXT NOT NULL,
    customer_id  TEXT NOT NULL REFERENCES customers(id),
    PRIMARY KEY (store_id, tag, customer_id)
) WITHOUT ROWID;
CREATE INDEX customer_tags_customer ON customer_tags(customer_id);
INSERT OR IGNORE INTO customer_tags (store_id, tag, customer_id)
    SELECT c.store_id, j.value, c.id FROM customers c, json_each(c.tags) j;

-- Staff notes on a customer; never edited, so the history of what the team knew stays.
CREATE TABLE customer_notes (
    id           TEXT PRIMARY KEY,
    store_id     TEXT NOT NULL REFERENCES stores(id),
    customer_id  TEXT NOT NULL REFERENCES customers(id),
    author_id    TEXT REFERENCES users(id),
    body         TEXT NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX customer_notes_customer ON customer_notes(store_id, customer_id, created_at);

-- Imports run in the background: who started them, how far they got, how they ended.
ALTER TABLE imports ADD COLUMN user_id TEXT REFERENCES users(id);
ALTER TABLE imports ADD COLUMN status TEXT NOT NULL DEFAULT 'finished';
ALTER TABLE imports ADD COLUMN rows_read INTEGER NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN error TEXT;
CREATE INDEX imports_store_started ON imports(store_id, started_at);
