-- Coupons (PostgreSQL): codes generated in batches, imported from a file or issued one at a time
-- (a reward redemption), their reservations at checkout and their redemptions by orders.
-- Money: BIGINT minor units of the store currency. Time: BIGINT epoch ms. Keep in step with
-- ../sqlite.

-- A set of codes made together: generated from a pattern or imported from one file.
CREATE TABLE coupon_batches (
    id          TEXT PRIMARY KEY,
    store_id    TEXT NOT NULL REFERENCES stores(id),
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,          -- generated | imported
    spec        TEXT NOT NULL,          -- JSON: how the codes were made, for the record
    code_count  BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX coupon_batches_store ON coupon_batches(store_id, created_at);

-- One code. `code` is stored upper-case: codes compare case-insensitively. `used` counts the
-- redemptions not rolled back (kept in the same transaction as them); live reservations are
-- counted from coupon_reservations, where expiry frees them without a sweep.
CREATE TABLE coupons (
    id                  TEXT PRIMARY KEY,
    store_id            TEXT NOT NULL REFERENCES stores(id),
    batch_id            TEXT REFERENCES coupon_batches(id),
    code                TEXT NOT NULL,
    discount            TEXT NOT NULL,  -- JSON regulars_domain::Discount
    starts_at           BIGINT,
    expires_at          BIGINT,
    minimum_spend       BIGINT NOT NULL DEFAULT 0,
    scope               TEXT NOT NULL DEFAULT '{}',
    customer_id         TEXT REFERENCES customers(id),
    usage_limit         BIGINT,
    per_customer_limit  BIGINT,
    stackable           BOOLEAN NOT NULL,
    used                BIGINT NOT NULL DEFAULT 0,
    origin              TEXT NOT NULL,  -- batch, import, or what minted it (reward:<id>)
    created_at          BIGINT NOT NULL,
    UNIQUE (store_id, code)
);
CREATE INDEX coupons_store_batch ON coupons(store_id, batch_id, id);
CREATE INDEX coupons_store_customer ON coupons(store_id, customer_id, id);

-- A use held by a checkout until it expires, is released or is consumed by the order.
CREATE TABLE coupon_reservations (
    id           TEXT PRIMARY KEY,
    store_id     TEXT NOT NULL REFERENCES stores(id),
    coupon_id    TEXT NOT NULL REFERENCES coupons(id),
    customer_id  TEXT,
    discount     BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX coupon_reservations_coupon ON coupon_reservations(coupon_id, expires_at);

-- An order that used a coupon: at most one row per coupon and order, so a webhook retry or a
-- re-import counts once. A refund or cancellation sets rolled_back_at; the row stays.
CREATE TABLE coupon_redemptions (
    id              TEXT PRIMARY KEY,
    store_id        TEXT NOT NULL REFERENCES stores(id),
    coupon_id       TEXT NOT NULL REFERENCES coupons(id),
    order_id        TEXT NOT NULL REFERENCES orders(id),
    customer_id     TEXT,
    redeemed_at     BIGINT NOT NULL,
    rolled_back_at  BIGINT,
    UNIQUE (coupon_id, order_id)
);
CREATE INDEX coupon_redemptions_order ON coupon_redemptions(store_id, order_id);
CREATE INDEX coupon_redemptions_customer ON coupon_redemptions(coupon_id, customer_id);
