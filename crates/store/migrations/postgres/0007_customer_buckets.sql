-- Customers by the quarter hour of their first and of their last order, beside the orders,
-- so new and returning customers of any period are sums of buckets. Keep in step with
-- ../sqlite.
ALTER TABLE order_buckets ADD COLUMN first_orders BIGINT NOT NULL DEFAULT 0;
ALTER TABLE order_buckets ADD COLUMN last_orders BIGINT NOT NULL DEFAULT 0;
INSERT INTO order_buckets (store_id, bucket, orders, revenue_minor, first_orders)
    SELECT store_id, first_order_at / 900000, 0, 0, COUNT(*)
    FROM customers WHERE first_order_at IS NOT NULL
    GROUP BY store_id, first_order_at / 900000
    ON CONFLICT (store_id, bucket) DO UPDATE SET first_orders = excluded.first_orders;
INSERT INTO order_buckets (store_id, bucket, orders, revenue_minor, last_orders)
    SELECT store_id, last_order_at / 900000, 0, 0, COUNT(*)
    FROM customers WHERE last_order_at IS NOT NULL
    GROUP BY store_id, last_order_at / 900000
    ON CONFLICT (store_id, bucket) DO UPDATE SET last_orders = excluded.last_orders;

-- A source's customer id looked up without its source: the customer id is in the index, so
-- the lookup never reads the table (and the planner never prefers a scan of the store).
DROP INDEX customer_identities_store_external;
CREATE INDEX customer_identities_store_external ON customer_identities(store_id, external_id, customer_id);
