-- The loyalty program (SQLite): rules, the points ledger, tiers, holds and the rewards
-- catalog. Points are integers. Keep in step with ../postgres.

-- The program as it stands; every change is also kept in loyalty_program_changes.
-- earning_since: orders placed before the program was first turned on earn nothing unless an
-- import chooses to credit history.
CREATE TABLE loyalty_programs (
    store_id       TEXT PRIMARY KEY REFERENCES stores(id),
    settings       TEXT NOT NULL,
    earning_since  INTEGER,
    link_key       TEXT NOT NULL,
    -- When the nightly job last ran: expiry reminders go only to lots newly inside the window.
    nightly_at     INTEGER,
    updated_by     TEXT NOT NULL,
    updated_at     INTEGER NOT NULL
);

CREATE TABLE loyalty_program_changes (
    id          TEXT PRIMARY KEY,
    store_id    TEXT NOT NULL REFERENCES stores(id),
    settings    TEXT NOT NULL,
    changed_by  TEXT NOT NULL,
    changed_at  INTEGER NOT NULL
);
CREATE INDEX loyalty_program_changes_store ON loyalty_program_changes(store_id, changed_at);

-- The ledger: immutable double-entry movements of points between accounts (program,
-- customer, held, redeemed, expired). A correction is a new entry that names the one it
-- reverses. dedupe_key makes every system posting happen once (an order earns once, a lot
-- expires once, a hold settles once).
CREATE TABLE loyalty_entries (
    id              TEXT PRIMARY KEY,
    store_id        TEXT NOT NULL REFERENCES stores(id),
    customer_id     TEXT NOT NULL REFERENCES customers(id),
    kind            TEXT NOT NULL,
    debit           TEXT NOT NULL,
    credit          TEXT NOT NULL,
    points          INTEGER NOT NULL CHECK (points >= 0),
    reverses        TEXT REFERENCES loyalty_entries(id),
    order_id        TEXT,
    hold_id         TEXT,
    reward_id       TEXT,
    action          TEXT,
    basis           INTEGER,
    written_off     INTEGER NOT NULL DEFAULT 0 CHECK (written_off >= 0),
    effective_at    INTEGER NOT NULL,
    available_from  INTEGER,
    expires_at      INTEGER,
    reason          TEXT NOT NULL,
    actor           TEXT NOT NULL,
    dedupe_key      TEXT,
    created_at      INTEGER NOT NULL,
    CHECK (debit <> credit),
    -- Only a revocation of points already spent may move nothing (all of it written off).
    CHECK (points > 0 OR written_off > 0)
);
CREATE UNIQUE INDEX loyalty_entries_dedupe ON loyalty_entries(store_id, dedupe_key);
-- A customer's entries, covering what tiers and balances sum: the nightly tier job reads the
-- whole store through it in customer order (grouping without a sort), one customer's queries
-- read only their own rows.
CREATE INDEX loyalty_entries_customer ON loyalty_entries(store_id, customer_id, kind, effective_at, points, written_off);
CREATE INDEX loyalty_entries_order ON loyalty_entries(store_id, order_id) WHERE order_id IS NOT NULL;
CREATE INDEX loyalty_entries_reverses ON loyalty_entries(reverses) WHERE reverses IS NOT NULL;
-- Entries of one kind over time (the expiry report).
CREATE INDEX loyalty_entries_kind ON loyalty_entries(store_id, kind, effective_at);

-- Earn lots: what each earning has left to spend. remaining is the one mutable figure, kept
-- equal to points minus the moves that name the lot (regulars check proves it).
CREATE TABLE loyalty_lots (
    id              TEXT PRIMARY KEY REFERENCES loyalty_entries(id),
    store_id        TEXT NOT NULL REFERENCES stores(id),
    customer_id     TEXT NOT NULL REFERENCES customers(id),
    points          INTEGER NOT NULL CHECK (points > 0),
    remaining       INTEGER NOT NULL CHECK (remaining >= 0 AND remaining <= points),
    available_from  INTEGER NOT NULL,
    expires_at      INTEGER
);
CREATE INDEX loyalty_lots_customer ON loyalty_lots(store_id, customer_id, expires_at);
CREATE INDEX loyalty_lots_open_expiry ON loyalty_lots(store_id, expires_at) WHERE remaining > 0 AND expires_at IS NOT NULL;

-- Which lots an entry took points from (negative: gave them back, as a voided hold does).
CREATE TABLE loyalty_lot_moves (
    entry_id  TEXT NOT NULL REFERENCES loyalty_entries(id),
    lot_id    TEXT NOT NULL REFERENCES loyalty_lots(id),
    points    INTEGER NOT NULL CHECK (points <> 0),
    PRIMARY KEY (entry_id, lot_id)
) WITHOUT ROWID;
CREATE INDEX loyalty_lot_moves_lot ON loyalty_lot_moves(lot_id);

-- Points reserved at checkout: posted (spent) or voided (given back) once, or expired.
CREATE TABLE loyalty_holds (
    id            TEXT PRIMARY KEY,
    store_id      TEXT NOT NULL REFERENCES stores(id),
    customer_id   TEXT NOT NULL REFERENCES customers(id),
    points        INTEGER NOT NULL CHECK (points > 0),
    state         TEXT NOT NULL,
    reason        TEXT NOT NULL,
    expires_at    INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    settled_at    INTEGER
);
CREATE INDEX loyalty_holds_customer ON loyalty_holds(store_id, customer_id, state);
CREATE INDEX loyalty_holds_open ON loyalty_holds(store_id, expires_at) WHERE state = 'open';

-- A member's tier and the measure it was decided on; history in loyalty_tier_changes.
CREATE TABLE loyalty_members (
    store_id      TEXT NOT NULL REFERENCES stores(id),
    customer_id   TEXT NOT NULL REFERENCES customers(id),
    tier_id       TEXT,
    tier_since    INTEGER,
    measure       INTEGER NOT NULL DEFAULT 0,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (store_id, customer_id)
) WITHOUT ROWID;
CREATE INDEX loyalty_members_tier ON loyalty_members(store_id, tier_id);

CREATE TABLE loyalty_tier_changes (
    id            TEXT PRIMARY KEY,
    store_id      TEXT NOT NULL REFERENCES stores(id),
    customer_id   TEXT NOT NULL REFERENCES customers(id),
    from_tier     TEXT,
    to_tier       TEXT,
    measure       INTEGER NOT NULL,
    cause         TEXT NOT NULL,
    changed_at    INTEGER NOT NULL
);
CREATE INDEX loyalty_tier_changes_customer ON loyalty_tier_changes(store_id, customer_id, changed_at);

-- The rewards catalog: what points buy. stock NULL: unlimited.
CREATE TABLE loyalty_rewards (
    id                   TEXT PRIMARY KEY,
    store_id             TEXT NOT NULL REFERENCES stores(id),
    name                 TEXT NOT NULL,
    description          TEXT,
    discount             TEXT NOT NULL,
    points_cost          INTEGER NOT NULL CHECK (points_cost >= 0),
    min_tier             TEXT,
    per_customer_limit   INTEGER,
    stock                INTEGER CHECK (stock IS NULL OR stock >= 0),
    redeemed_count       INTEGER NOT NULL DEFAULT 0,
    coupon_valid_days    INTEGER,
    minimum_spend_minor  INTEGER NOT NULL DEFAULT 0,
    active               INTEGER NOT NULL DEFAULT 1,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE INDEX loyalty_rewards_store ON loyalty_rewards(store_id, active);

CREATE TABLE loyalty_redemptions (
    id            TEXT PRIMARY KEY,
    store_id      TEXT NOT NULL REFERENCES stores(id),
    customer_id   TEXT NOT NULL REFERENCES customers(id),
    reward_id     TEXT NOT NULL REFERENCES loyalty_rewards(id),
    entry_id      TEXT REFERENCES loyalty_entries(id),
    coupon_id     TEXT,
    coupon_code   TEXT,
    points        INTEGER NOT NULL,
    cause         TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX loyalty_redemptions_customer ON loyalty_redemptions(store_id, customer_id, reward_id);
CREATE INDEX loyalty_redemptions_store ON loyalty_redemptions(store_id, created_at);
