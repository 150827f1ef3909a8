-- Every order rewrites its customer's aggregates, and with them every index that holds one.
-- Keep in step with ../sqlite.

-- Only customers someone looks after belong in the account-manager index: the rest (nearly
-- all) no longer pay for it on each order. `account_manager_id = ?` implies the condition, so
-- the "my customers" list still walks it.
DROP INDEX customers_account_manager;
CREATE INDEX customers_account_manager ON customers(store_id, account_manager_id, last_order_at, id)
    WHERE account_manager_id IS NOT NULL;

-- New customers of a period are counted from the running totals (order_buckets.first_orders).
DROP INDEX customers_store_first_order;
