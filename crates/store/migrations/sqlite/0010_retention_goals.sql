-- Retention goals and marketing spend (SQLite): what the analytics pages compare the store's
-- figures with. Keep in step with ../postgres.

-- The team's targets for the retention KPIs, kept as history: every change is a new row and
-- the latest row of a KPI is its target (a row without a value clears it). Rates and
-- purchase frequency are stored × 10,000 (basis points: 25 % = 2500, 1.85 orders = 18500);
-- money (average order value, historic CLV) in the store's minor units.
CREATE TABLE kpi_targets (
    id        TEXT PRIMARY KEY,
    store_id  TEXT NOT NULL REFERENCES stores(id),
    kpi       TEXT NOT NULL,
    target    INTEGER,
    set_by    TEXT REFERENCES users(id),
    set_at    INTEGER NOT NULL
);
CREATE INDEX kpi_targets_store_kpi ON kpi_targets(store_id, kpi, set_at);

-- Marketing spend per acquisition channel and calendar month ('YYYY-MM', the store's time
-- zone), entered by staff, for acquisition cost per channel. One row per month and channel:
-- entering it again replaces the amount.
CREATE TABLE marketing_spend (
    store_id      TEXT NOT NULL REFERENCES stores(id),
    channel       TEXT NOT NULL,
    month         TEXT NOT NULL,
    amount_minor  INTEGER NOT NULL,
    set_by        TEXT REFERENCES users(id),
    set_at        INTEGER NOT NULL,
    PRIMARY KEY (store_id, channel, month)
) WITHOUT ROWID;
