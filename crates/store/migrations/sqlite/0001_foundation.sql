-- Foundation schema (SQLite). Money: INTEGER minor units. Time: INTEGER epoch milliseconds UTC.
-- Ids: UUIDv7 text. External ids: TEXT (Shopify's exceed 2^53). Keep in step with ../postgres.

CREATE TABLE stores (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    currency    TEXT NOT NULL,
    timezone    TEXT NOT NULL,
    locale      TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    store_id    TEXT NOT NULL REFERENCES stores(id),
    name        TEXT NOT NULL,
    prefix      TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX api_keys_store ON api_keys(store_id);

CREATE TABLE webhook_secrets (
    id          TEXT PRIMARY KEY,
    store_id    TEXT NOT NULL REFERENCES stores(id),
    source      TEXT NOT NULL,
    secret      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (store_id, source, secret)
);

CREATE TABLE customers (
    id                          TEXT PRIMARY KEY,
    store_id                    TEXT NOT NULL REFERENCES stores(id),
    email                       TEXT,
    phone                       TEXT,
    first_name                  TEXT,
    last_name                   TEXT,
    locale                      TEXT,
    birthday                    TEXT,
    tags                        TEXT NOT NULL DEFAULT '[]',
    attributes                  TEXT NOT NULL DEFAULT '{}',
    note                        TEXT,
    acquisition_channel         TEXT,
    acquisition_cost_minor      INTEGER,
    acquisition_cost_currency   TEXT,
    has_account                 INTEGER NOT NULL DEFAULT 0,
    consent_email               INTEGER,
    consent_sms                 INTEGER,
    consent_whatsapp            INTEGER,
    orders_count                INTEGER NOT NULL DEFAULT 0,
    total_spent_minor           INTEGER NOT NULL DEFAULT 0,
    first_order_at              INTEGER,
    last_order_at               INTEGER,
    created_at                  INTEGER NOT NULL,
    updated_at                  INTEGER NOT NULL
);
CREATE INDEX customers_store_email ON customers(store_id, email);
CREATE INDEX customers_store_phone ON customers(store_id, phone);
CREATE INDEX customers_store_created ON customers(store_id, created_at, id);

-- One customer may be known to several sources under their own ids.
CREATE TABLE customer_identities (
    store_id     TEXT NOT NULL,
    source       TEXT NOT NULL,
    external_id  TEXT NOT NULL,
    customer_id  TEXT NOT NULL REFERENCES customers(id),
    PRIMARY KEY (store_id, source, external_id)
) WITHOUT ROWID;
CREATE INDEX customer_identities_customer ON customer_identities(customer_id);

-- Append-only (RELIABILITY P1): a withdrawal is a new row, never an update.
CREATE TABLE consent_events (
    id              TEXT PRIMARY KEY,
    store_id        TEXT NOT NULL,
    customer_id     TEXT NOT NULL REFERENCES customers(id),
    channel         TEXT NOT NULL,
    granted         INTEGER NOT NULL,
    occurred_at     INTEGER NOT NULL,
    recorded_at     INTEGER NOT NULL,
    collected_via   TEXT NOT NULL,
    notice_version  TEXT,
    notice_hash     TEXT,
    language        TEXT,
    ip              TEXT,
    user_agent      TEXT,
    actor           TEXT NOT NULL
);
CREATE INDEX consent_events_customer ON consent_events(customer_id, channel, occurred_at);

CREATE TABLE orders (
    id                       TEXT PRIMARY KEY,
    store_id                 TEXT NOT NULL REFERENCES stores(id),
    source                   TEXT NOT NULL,
    external_id              TEXT NOT NULL,
    order_number             TEXT,
    customer_id              TEXT REFERENCES customers(id),
    placed_at                INTEGER NOT NULL,
    source_updated_at        INTEGER,
    currency                 TEXT NOT NULL,
    subtotal                 INTEGER NOT NULL,
    discount_total           INTEGER NOT NULL,
    shipping_total           INTEGER NOT NULL,
    tax_total                INTEGER NOT NULL,
    total                    INTEGER NOT NULL,
    refunded_total           INTEGER NOT NULL DEFAULT 0,
    financial_status         TEXT NOT NULL,
    status                   TEXT NOT NULL,
    cancelled_at             INTEGER,
    marketplace              TEXT,
    buyer_accepts_marketing  INTEGER,
    note                     TEXT,
    discount_codes           TEXT NOT NULL DEFAULT '[]',
    fingerprint              TEXT NOT NULL,
    created_at               INTEGER NOT NULL,
    updated_at               INTEGER NOT NULL,
    UNIQUE (store_id, source, external_id)
);
CREATE INDEX orders_customer ON orders(customer_id, placed_at);
CREATE INDEX orders_store_placed ON orders(store_id, placed_at, id);

CREATE TABLE order_lines (
    order_id             TEXT NOT NULL REFERENCES orders(id),
    position             INTEGER NOT NULL,
    external_id          TEXT,
    product_external_id  TEXT,
    variant_external_id  TEXT,
    sku                  TEXT,
    title                TEXT NOT NULL,
    quantity             INTEGER NOT NULL,
    unit_price           INTEGER NOT NULL,
    discount             INTEGER NOT NULL,
    PRIMARY KEY (order_id, position)
) WITHOUT ROWID;

CREATE TABLE refunds (
    id           TEXT PRIMARY KEY,
    store_id     TEXT NOT NULL,
    order_id     TEXT NOT NULL REFERENCES orders(id),
    external_id  TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    amount       INTEGER NOT NULL,
    reason       TEXT,
    lines        TEXT NOT NULL DEFAULT '[]',
    UNIQUE (order_id, external_id)
);

-- Products are learned from order lines: keyed by the source's product id, else by SKU.
CREATE TABLE products (
    store_id       TEXT NOT NULL REFERENCES stores(id),
    source         TEXT NOT NULL,
    product_key    TEXT NOT NULL,
    sku            TEXT,
    title          TEXT NOT NULL,
    currency       TEXT NOT NULL,
    last_price     INTEGER NOT NULL,
    first_seen_at  INTEGER NOT NULL,
    last_seen_at   INTEGER NOT NULL,
    PRIMARY KEY (store_id, source, product_key)
) WITHOUT ROWID;

-- The customer's timeline: orders, refunds, consent changes and custom events.
CREATE TABLE events (
    id           TEXT PRIMARY KEY,
    store_id     TEXT NOT NULL,
    customer_id  TEXT,
    kind         TEXT NOT NULL,
    name         TEXT,
    occurred_at  INTEGER NOT NULL,
    recorded_at  INTEGER NOT NULL,
    dedupe_key   TEXT NOT NULL,
    data         TEXT NOT NULL DEFAULT '{}',
    UNIQUE (store_id, dedupe_key)
);
CREATE INDEX events_customer ON events(customer_id, occurred_at);

-- Stripe-style idempotency: the first request's reply is stored and replayed.
CREATE TABLE idempotency_keys (
    store_id         TEXT NOT NULL,
    key              TEXT NOT NULL,
    request_hash     TEXT NOT NULL,
    state            TEXT NOT NULL,
    response_status  INTEGER,
    response_body    TEXT,
    created_at       INTEGER NOT NULL,
    completed_at     INTEGER,
    PRIMARY KEY (store_id, key)
) WITHOUT ROWID;

-- One row per webhook delivery id: a repeated delivery is recognised and applied once.
CREATE TABLE webhook_deliveries (
    store_id     TEXT NOT NULL,
    source       TEXT NOT NULL,
    delivery_id  TEXT NOT NULL,
    topic        TEXT NOT NULL,
    received_at  INTEGER NOT NULL,
    PRIMARY KEY (store_id, source, delivery_id)
) WITHOUT ROWID;

CREATE TABLE imports (
    id           TEXT PRIMARY KEY,
    store_id     TEXT NOT NULL REFERENCES stores(id),
    kind         TEXT NOT NULL,
    file_name    TEXT NOT NULL,
    started_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    summary      TEXT
);
