-- Predictive analytics per customer: what the store's purchase and spend models (MBG/NBD and
-- Gamma-Gamma) and RFM scoring say about each of them. A refit of the whole store writes every
-- customer's fields; each order of a customer recomputes theirs from the stored model.
-- Keep in step with ../sqlite.

-- Null until the store's first refit, and for customers who never bought. The model fields
-- stay null when the store's model could not be fitted (see analytics_models.failure).
ALTER TABLE customers ADD COLUMN p_alive DOUBLE PRECISION;
ALTER TABLE customers ADD COLUMN predicted_purchases_12m DOUBLE PRECISION;
-- Money is an integer of the store currency's minor units.
ALTER TABLE customers ADD COLUMN clv_12m_minor BIGINT;
-- Null when no purchase is expected.
ALTER TABLE customers ADD COLUMN next_purchase_at BIGINT;
ALTER TABLE customers ADD COLUMN rfm_recency SMALLINT;
ALTER TABLE customers ADD COLUMN rfm_frequency SMALLINT;
ALTER TABLE customers ADD COLUMN rfm_monetary SMALLINT;
-- A segment key: champions, loyal_customers, …, lost.
ALTER TABLE customers ADD COLUMN rfm_segment TEXT;
ALTER TABLE customers ADD COLUMN vip BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE customers ADD COLUMN analytics_at BIGINT;

-- The customer list sorted by lifetime value or by the chance a customer is still active
-- (the id breaks ties for keyset pagination), and the few customers of a small segment
-- gathered by their segment (a large one is met while walking the sort's index).
CREATE INDEX customers_store_clv ON customers(store_id, clv_12m_minor, id);
CREATE INDEX customers_store_p_alive ON customers(store_id, p_alive, id);
CREATE INDEX customers_store_segment ON customers(store_id, rfm_segment, id);

-- The store's last refit: the fitted parameters (JSON), the RFM quintile cut points and the
-- VIP spend threshold, so one customer is scored without ranking everyone again, and why the
-- models were not fitted when they were not.
CREATE TABLE analytics_models (
    store_id             TEXT PRIMARY KEY REFERENCES stores(id),
    fitted_at            BIGINT NOT NULL,
    time_unit            TEXT NOT NULL,
    customers            BIGINT NOT NULL,
    repeat_buyers        BIGINT NOT NULL,
    mbg_nbd              TEXT,
    gamma_gamma          TEXT,
    log_likelihood       DOUBLE PRECISION,
    rfm_cuts             TEXT NOT NULL,
    vip_threshold_minor  BIGINT,
    failure              TEXT,
    failure_detail       TEXT,
    duration_ms          BIGINT NOT NULL
);
