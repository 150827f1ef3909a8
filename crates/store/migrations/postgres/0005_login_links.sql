-- One-time sign-in links (the demo's "open the dashboard signed in"). Only a SHA-256 of the
-- token is kept; a link works once, before it expires. Keep in step with ../sqlite.
CREATE TABLE login_links (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
