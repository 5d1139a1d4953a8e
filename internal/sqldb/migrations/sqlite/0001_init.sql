-- Latchkey schema, SQLite. Times are unix microseconds (UTC). Ids of
-- accounts, keys and audit events use AUTOINCREMENT so a deleted key's id is
-- never reused (the audit log and cursors refer to ids).

CREATE TABLE accounts (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	name       TEXT    NOT NULL UNIQUE,
	key_prefix TEXT    NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE settings (
	name  TEXT NOT NULL PRIMARY KEY,
	value TEXT NOT NULL
) STRICT;

CREATE TABLE keys (
	id                      INTEGER PRIMARY KEY AUTOINCREMENT,
	account_id              INTEGER NOT NULL REFERENCES accounts (id),
	kind                    TEXT    NOT NULL CHECK (kind IN ('api', 'root')),
	name                    TEXT    NOT NULL DEFAULT '',
	description             TEXT    NOT NULL DEFAULT '',
	owner_email             TEXT,
	owner_name              TEXT,
	owner_phone             TEXT,
	enabled                 INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
	expires_at              INTEGER,
	revoked_at              INTEGER,
	revoked_reason          TEXT,
	rate_limit_limit        INTEGER,
	rate_limit_window       INTEGER,
	max_devices             INTEGER NOT NULL DEFAULT 0 CHECK (max_devices >= 0),
	credits_remaining       INTEGER CHECK (credits_remaining >= 0),
	credits_refill_amount   INTEGER,
	credits_refill_interval TEXT,
	credits_refilled_at     INTEGER,
	meta                    TEXT    NOT NULL DEFAULT '{}',
	start                   TEXT    NOT NULL,
	created_at              INTEGER NOT NULL,
	updated_at              INTEGER NOT NULL,
	created_ip              TEXT    NOT NULL DEFAULT '',
	user_agent              TEXT    NOT NULL DEFAULT '',
	last_used_at            INTEGER,
	UNIQUE (account_id, id)
) STRICT;

CREATE INDEX keys_owner_email ON keys (account_id, owner_email, id);

CREATE TABLE key_secrets (
	id         INTEGER PRIMARY KEY,
	key_id     INTEGER NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
	hash       BLOB    NOT NULL UNIQUE CHECK (length(hash) = 32),
	start      TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER
) STRICT;

CREATE INDEX key_secrets_key ON key_secrets (key_id);

CREATE TABLE permissions (
	account_id  INTEGER NOT NULL REFERENCES accounts (id),
	name        TEXT    NOT NULL,
	description TEXT    NOT NULL DEFAULT '',
	created_at  INTEGER NOT NULL,
	PRIMARY KEY (account_id, name)
) STRICT;

-- An api key's permissions, each from its account's catalogue.
CREATE TABLE key_permissions (
	key_id     INTEGER NOT NULL,
	account_id INTEGER NOT NULL,
	name       TEXT    NOT NULL,
	PRIMARY KEY (key_id, name),
	FOREIGN KEY (account_id, key_id) REFERENCES keys (account_id, id) ON DELETE CASCADE,
	FOREIGN KEY (account_id, name) REFERENCES permissions (account_id, name) ON DELETE CASCADE
) STRICT;

CREATE INDEX key_permissions_permission ON key_permissions (account_id, name);

-- A root key's permissions: the fixed root set (keys:read, …), which is not
-- part of any account's catalogue.
CREATE TABLE key_root_permissions (
	key_id INTEGER NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
	name   TEXT    NOT NULL,
	PRIMARY KEY (key_id, name)
) STRICT;

CREATE TABLE devices (
	key_id     INTEGER NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
	device_id  TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (key_id, device_id)
) STRICT;

-- Verification counts per key, minute (start, unix microseconds) and code.
CREATE TABLE key_usage (
	key_id INTEGER NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
	minute INTEGER NOT NULL,
	code   TEXT    NOT NULL,
	count  INTEGER NOT NULL,
	PRIMARY KEY (key_id, minute, code)
) STRICT;

-- The audit log outlives what it describes: key_id has no foreign key.
CREATE TABLE audit_events (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	account_id  INTEGER NOT NULL REFERENCES accounts (id),
	time        INTEGER NOT NULL,
	actor_kind  TEXT    NOT NULL,
	actor_id    INTEGER NOT NULL DEFAULT 0,
	action      TEXT    NOT NULL,
	target_type TEXT    NOT NULL,
	target_id   TEXT    NOT NULL,
	key_id      INTEGER,
	changes     TEXT    NOT NULL DEFAULT '{}',
	ip          TEXT    NOT NULL DEFAULT '',
	user_agent  TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX audit_events_account ON audit_events (account_id, id);
CREATE INDEX audit_events_key ON audit_events (account_id, key_id, id);
CREATE INDEX audit_events_actor ON audit_events (account_id, actor_kind, actor_id, id);
CREATE INDEX audit_events_action ON audit_events (account_id, action, id);
CREATE INDEX audit_events_time ON audit_events (account_id, time);
