-- Staff people and their access (PostgreSQL). Keep in step with ../sqlite.

CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    email           TEXT NOT NULL UNIQUE,
    password_hash   TEXT NOT NULL,
    display_name    TEXT,
    locale          TEXT,
    disabled        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- One person may work for several stores, with one role in each.
CREATE TABLE memberships (
    store_id    TEXT NOT NULL REFERENCES stores(id),
    user_id     TEXT NOT NULL REFERENCES users(id),
    role        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (store_id, user_id)
);
CREATE INDEX memberships_user ON memberships(user_id);

-- Server-side sessions; the cookie carries a random token, the table only its SHA-256.
CREATE TABLE sessions (
    token_hash      TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users(id),
    csrf_token      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    last_seen_at    BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

-- Failed logins, by account+address and by address, for throttling.
CREATE TABLE login_failures (
    id          TEXT PRIMARY KEY,
    account     TEXT NOT NULL,
    address     TEXT NOT NULL,
    at          BIGINT NOT NULL
);
CREATE INDEX login_failures_account ON login_failures(account, address, at);
CREATE INDEX login_failures_address ON login_failures(address, at);

ALTER TABLE customers ADD COLUMN account_manager_id TEXT REFERENCES users(id);
CREATE INDEX customers_account_manager ON customers(store_id, account_manager_id);
