-- Indexes for the lookups every batch and every page makes, so none of them reads a whole
-- store. Keep in step with ../postgres.

-- Rows by id within a store (batches look customers up by id, pages list by id): without
-- these, `store_id = ? AND id IN (…)` is answered by scanning every row of the store.
CREATE INDEX customers_store_id ON customers(store_id, id);
CREATE INDEX orders_store_id ON orders(store_id, id);

-- A customer's orders, newest id last, for the profile and the API's customer filter.
CREATE INDEX orders_store_customer ON orders(store_id, customer_id, id);

-- Customers by first order, for "new customers" over a period.
CREATE INDEX customers_store_first_order ON customers(store_id, first_order_at);

-- A customer's identities, scoped to the store.
CREATE INDEX customer_identities_store_customer ON customer_identities(store_id, customer_id);
DROP INDEX customer_identities_customer;

-- Customer aggregates (orders count, spend, first and last order) are recomputed from the
-- customer's orders after every write; this index holds every column they read, so the
-- recomputation never visits the orders table itself.
CREATE INDEX orders_customer_totals ON orders(customer_id, status, currency, placed_at, total, refunded_total);
DROP INDEX orders_customer;
