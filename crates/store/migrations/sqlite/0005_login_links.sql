-- One-time sign-in links (the demo's "open the dashboard signed in"). Only a SHA-256 of the
-- token is kept; a link works once, before it expires. Keep in step with ../postgres.
CREATE TABLE login_links (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
