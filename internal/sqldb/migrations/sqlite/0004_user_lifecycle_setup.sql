-- Deactivated users and the one-time setup link, SQLite.

-- A user with disabled_at set may not sign in or refresh a session.
ALTER TABLE users ADD COLUMN disabled_at INTEGER;

-- The setup link of the first start creates the first admin user. Only
-- SHA-256 of its token is stored; a token works once (used_at), before
-- expires_at, and only while no user exists.
CREATE TABLE setup_tokens (
	hash       BLOB    NOT NULL PRIMARY KEY CHECK (length(hash) = 32),
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	used_at    INTEGER,
	used_by    INTEGER REFERENCES users (id)
) STRICT, WITHOUT ROWID;
