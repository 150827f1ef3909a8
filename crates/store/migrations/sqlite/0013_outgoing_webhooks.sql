-- Outgoing webhooks (SQLite), RELIABILITY W4: the endpoints a store registers, the messages
-- owed to them and every attempt to deliver one. Keep in step with ../postgres.

-- An HTTPS endpoint told about a store's events. `event_types` is a JSON array of types such
-- as "points.earned"; an empty array subscribes to every type. After a rotation the previous
-- secret still signs (beside the new one) until `previous_secret_until`.
CREATE TABLE webhook_endpoints (
    id                     TEXT PRIMARY KEY,
    store_id               TEXT NOT NULL REFERENCES stores(id),
    url                    TEXT NOT NULL,
    description            TEXT NOT NULL DEFAULT '',
    event_types            TEXT NOT NULL DEFAULT '[]',
    enabled                INTEGER NOT NULL DEFAULT 1,
    -- Why it stopped: "manual" (staff) or "gone" (the receiver answered 410).
    disabled_reason        TEXT,
    secret                 TEXT NOT NULL,
    previous_secret        TEXT,
    previous_secret_until  INTEGER,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_store ON webhook_endpoints(store_id, created_at);

-- One message to one endpoint, queued in the transaction that records its event. The id is
-- the `webhook-id` header: the same on every attempt. `payload` is the exact body signed and
-- sent. A worker claims a due message by setting `locked_until` (its lease) and counting the
-- attempt; status: pending, succeeded, failed (gave up or refused) or cancelled (endpoint
-- disabled before it was sent).
CREATE TABLE webhook_messages (
    id                    TEXT PRIMARY KEY,
    store_id              TEXT NOT NULL REFERENCES stores(id),
    endpoint_id           TEXT NOT NULL REFERENCES webhook_endpoints(id),
    event_type            TEXT NOT NULL,
    payload               TEXT NOT NULL,
    status                TEXT NOT NULL,
    attempts              INTEGER NOT NULL DEFAULT 0,
    next_attempt_at       INTEGER NOT NULL,
    locked_until          INTEGER,
    last_response_status  INTEGER,
    last_error            TEXT,
    created_at            INTEGER NOT NULL,
    finished_at           INTEGER
);
CREATE INDEX webhook_messages_due ON webhook_messages(status, next_attempt_at);
CREATE INDEX webhook_messages_endpoint ON webhook_messages(store_id, endpoint_id, status);

-- Every attempt, for the endpoint's delivery log: outcome succeeded, retry, failed or gone.
CREATE TABLE webhook_attempts (
    id               TEXT PRIMARY KEY,
    store_id         TEXT NOT NULL REFERENCES stores(id),
    endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints(id),
    message_id       TEXT NOT NULL REFERENCES webhook_messages(id),
    attempt          INTEGER NOT NULL,
    attempted_at     INTEGER NOT NULL,
    outcome          TEXT NOT NULL,
    response_status  INTEGER,
    duration_ms      INTEGER NOT NULL,
    error            TEXT
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts(store_id, endpoint_id, attempted_at);
CREATE INDEX webhook_attempts_message ON webhook_attempts(message_id);
