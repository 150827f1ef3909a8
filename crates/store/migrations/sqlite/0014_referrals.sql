-- Referrals (SQLite): the program's settings, advocates' codes, referred friends and the fraud
-- findings on each, landing visits, order signals (keyed hashes only), partners and their
-- commission ledger. Money: INTEGER minor units of the store currency. Time: INTEGER epoch ms.
-- Keep in step with ../postgres.

-- The program: one JSON document (regulars_domain::referral::ReferralProgram). `signal_key`
-- keys the hashes of IP addresses, devices, addresses and cards (never shown).
CREATE TABLE referral_programs (
    store_id    TEXT PRIMARY KEY REFERENCES stores(id),
    settings    TEXT NOT NULL,
    signal_key  TEXT NOT NULL,
    run_at      INTEGER,                -- when the qualifying job last ran
    updated_by  TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- An advocate's code. The code is also a coupon (first orders only) carrying the friend's
-- discount.
CREATE TABLE referral_codes (
    store_id     TEXT NOT NULL REFERENCES stores(id),
    customer_id  TEXT NOT NULL REFERENCES customers(id),
    code         TEXT NOT NULL,
    coupon_id    TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (store_id, customer_id),
    UNIQUE (store_id, code)
);

-- One referred friend (a friend is referred once). status: awaiting_order | pending | review |
-- rewarded | qualified | rejected | cancelled. `findings` is the JSON list of fraud rules that
-- matched, each with its action and facts; `reason` the rule or staff note behind the decision.
CREATE TABLE referrals (
    id               TEXT PRIMARY KEY,
    store_id         TEXT NOT NULL REFERENCES stores(id),
    advocate_id      TEXT NOT NULL REFERENCES customers(id),
    friend_id        TEXT NOT NULL REFERENCES customers(id),
    code             TEXT NOT NULL,
    channel          TEXT NOT NULL,     -- code | link | order
    status           TEXT NOT NULL,
    order_id         TEXT REFERENCES orders(id),
    order_value      INTEGER,
    qualifies_at     INTEGER,
    findings         TEXT NOT NULL DEFAULT '[]',
    reason           TEXT,
    decided_by       TEXT,
    decided_at       INTEGER,
    advocate_reward  TEXT,              -- JSON: what the advocate got (or why nothing)
    friend_reward    TEXT,
    ip_hash          TEXT,
    device_hash      TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    UNIQUE (store_id, friend_id)
);
CREATE INDEX referrals_advocate ON referrals(store_id, advocate_id, created_at);
CREATE INDEX referrals_status ON referrals(store_id, status, qualifies_at);
CREATE INDEX referrals_order ON referrals(order_id);
CREATE INDEX referrals_created ON referrals(store_id, created_at);
CREATE INDEX referrals_ip ON referrals(store_id, ip_hash, created_at);
CREATE INDEX referrals_device ON referrals(store_id, device_hash, created_at);

-- Visits of a share link's landing page: only keyed hashes, for burst detection.
CREATE TABLE referral_visits (
    store_id     TEXT NOT NULL REFERENCES stores(id),
    code         TEXT NOT NULL,
    ip_hash      TEXT,
    device_hash  TEXT,
    visited_at   INTEGER NOT NULL
);
CREATE INDEX referral_visits_code ON referral_visits(store_id, code, visited_at);

-- Keyed hashes of what identifies an order's buyer: kind ip | device | address | payment.
CREATE TABLE order_signals (
    order_id     TEXT NOT NULL REFERENCES orders(id),
    kind         TEXT NOT NULL,
    store_id     TEXT NOT NULL,
    customer_id  TEXT,
    value_hash   TEXT NOT NULL,
    PRIMARY KEY (order_id, kind)
);
CREATE INDEX order_signals_value ON order_signals(store_id, kind, value_hash);
CREATE INDEX order_signals_customer ON order_signals(customer_id, kind);

-- The inner circle: customers invited to earn a commission on what their friends buy.
-- scope: first_order | all_orders (for `period_days` after the friend's referral).
CREATE TABLE partners (
    store_id       TEXT NOT NULL REFERENCES stores(id),
    customer_id    TEXT NOT NULL REFERENCES customers(id),
    status         TEXT NOT NULL,       -- active | ended
    basis_points   INTEGER NOT NULL,
    scope          TEXT NOT NULL,
    period_days    INTEGER,
    note           TEXT,
    invited_by     TEXT NOT NULL,
    invited_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (store_id, customer_id)
);

-- The commission ledger: an `earned` row per order, a `reversal` row (negative) per refund
-- step. status: pending (inside the return window) | approved (owed) | paid.
CREATE TABLE commissions (
    id            TEXT PRIMARY KEY,
    store_id      TEXT NOT NULL REFERENCES stores(id),
    partner_id    TEXT NOT NULL REFERENCES customers(id),
    referral_id   TEXT NOT NULL REFERENCES referrals(id),
    order_id      TEXT NOT NULL REFERENCES orders(id),
    kind          TEXT NOT NULL,        -- earned | reversal
    amount        INTEGER NOT NULL,
    revenue       INTEGER NOT NULL,
    basis_points  INTEGER NOT NULL,
    status        TEXT NOT NULL,
    approves_at   INTEGER NOT NULL,
    payout_id     TEXT,
    dedupe_key    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    UNIQUE (store_id, dedupe_key)
);
CREATE INDEX commissions_partner ON commissions(store_id, partner_id, created_at);
CREATE INDEX commissions_order ON commissions(order_id);
CREATE INDEX commissions_status ON commissions(store_id, status, approves_at);

-- A payment to a partner of every approved row at the time.
CREATE TABLE commission_payouts (
    id          TEXT PRIMARY KEY,
    store_id    TEXT NOT NULL REFERENCES stores(id),
    partner_id  TEXT NOT NULL REFERENCES customers(id),
    amount      INTEGER NOT NULL,
    entries     INTEGER NOT NULL,
    reference   TEXT,
    paid_by     TEXT NOT NULL,
    paid_at     INTEGER NOT NULL
);
CREATE INDEX commission_payouts_partner ON commission_payouts(store_id, partner_id, paid_at);

-- A coupon that only a customer's first order may use (the friend's side of a referral).
ALTER TABLE coupons ADD COLUMN first_order_only INTEGER NOT NULL DEFAULT 0;
