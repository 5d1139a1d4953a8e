-- Deactivated users and the one-time setup link, PostgreSQL.

-- A user with disabled_at set may not sign in or refresh a session.
ALTER TABLE users ADD COLUMN disabled_at BIGINT;

-- The setup link of the first start creates the first admin user. Only
-- SHA-256 of its token is stored; a token works once (used_at), before
-- expires_at, and only while no user exists.
CREATE TABLE setup_tokens (
	hash       BYTEA  NOT NULL PRIMARY KEY CHECK (octet_length(hash) = 32),
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	used_at    BIGINT,
	used_by    BIGINT REFERENCES users (id)
);
