-- People and sign-in, SQLite. Emails are stored trimmed and lowercased by
-- the store, so UNIQUE (email) is unique case-insensitively. Only an
-- argon2id PHC string of a password and only SHA-256 of a refresh token are
-- stored.

CREATE TABLE users (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	email         TEXT    NOT NULL UNIQUE,
	name          TEXT    NOT NULL DEFAULT '',
	password_hash TEXT    NOT NULL,
	created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE memberships (
	account_id INTEGER NOT NULL REFERENCES accounts (id),
	user_id    INTEGER NOT NULL REFERENCES users (id),
	role       TEXT    NOT NULL CHECK (role IN ('admin', 'member')),
	created_at INTEGER NOT NULL,
	PRIMARY KEY (account_id, user_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX memberships_user ON memberships (user_id, created_at);

-- One sign-in. Its refresh tokens rotate inside it; revoking it ends them all.
CREATE TABLE session_families (
	id         TEXT    NOT NULL PRIMARY KEY,
	user_id    INTEGER NOT NULL REFERENCES users (id),
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	revoked_at INTEGER,
	ip         TEXT    NOT NULL DEFAULT '',
	user_agent TEXT    NOT NULL DEFAULT ''
) STRICT, WITHOUT ROWID;

CREATE INDEX session_families_user ON session_families (user_id);
CREATE INDEX session_families_expires ON session_families (expires_at);

-- Every refresh token a family has issued, kept until the family is pruned
-- so that presenting a rotated one is recognised as reuse.
CREATE TABLE refresh_tokens (
	hash       BLOB    NOT NULL PRIMARY KEY CHECK (length(hash) = 32),
	family_id  TEXT    NOT NULL REFERENCES session_families (id) ON DELETE CASCADE,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	rotated_at INTEGER
) STRICT, WITHOUT ROWID;

CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
