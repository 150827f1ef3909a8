-- Running totals kept in step with every write, so the overview reads a few thousand rows
-- instead of millions of orders. Keep in step with ../postgres.

-- Orders and revenue (net of refunds) per quarter hour, counted as the overview counts them:
-- not cancelled, in the store's currency. A quarter hour is the finest step of any time
-- zone's offset, so any store's days are whole sums of buckets, whatever its zone.
CREATE TABLE order_buckets (
    store_id       TEXT NOT NULL,
    bucket         INTEGER NOT NULL,
    orders         INTEGER NOT NULL,
    revenue_minor  INTEGER NOT NULL,
    PRIMARY KEY (store_id, bucket)
) WITHOUT ROWID;
INSERT INTO order_buckets (store_id, bucket, orders, revenue_minor)
    SELECT o.store_id, o.placed_at / 900000, COUNT(*), SUM(o.total - o.refunded_total)
    FROM orders o JOIN stores s ON s.id = o.store_id
    WHERE o.cancelled_at IS NULL AND o.currency = s.currency
    GROUP BY o.store_id, o.placed_at / 900000;

-- Customers who ever ordered, and who ordered at least twice, per store.
CREATE TABLE store_counters (
    store_id      TEXT PRIMARY KEY,
    buyers        INTEGER NOT NULL,
    repeat_buyers INTEGER NOT NULL
);
INSERT INTO store_counters (store_id, buyers, repeat_buyers)
    SELECT store_id,
           SUM(CASE WHEN orders_count >= 1 THEN 1 ELSE 0 END),
           SUM(CASE WHEN orders_count >= 2 THEN 1 ELSE 0 END)
    FROM customers GROUP BY store_id;

-- Returning customers of a period ending now: last order in it, first order before it.
DROP INDEX customers_store_last_order;
CREATE INDEX customers_store_last_order ON customers(store_id, last_order_at, id, first_order_at);
