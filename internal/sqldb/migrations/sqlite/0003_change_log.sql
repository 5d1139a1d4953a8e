-- The change log of key mutations, SQLite: the same tables as on
-- PostgreSQL (see migrations/postgres/0003_change_log.sql). One process
-- serves a SQLite file, so nothing replays it yet; it keeps the two stores
-- alike and numbers every change.

-- epoch names this numbering: a database restored from a backup, failed
-- over to a standby that lacks the last commits or created anew keeps its
-- URL but not its numbers, and an instance that sees another epoch (or a
-- number below the last it applied) drops its whole cache.
CREATE TABLE change_seq (
	id    INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	seq   INTEGER NOT NULL,
	epoch TEXT    NOT NULL
);
INSERT INTO change_seq (id, seq, epoch) VALUES (1, 0, lower(hex(randomblob(16))));

CREATE TABLE change_log (
	seq        INTEGER NOT NULL PRIMARY KEY,
	account_id INTEGER NOT NULL,
	key_id     INTEGER NOT NULL,
	origin     TEXT    NOT NULL,
	created_at INTEGER NOT NULL
);

CREATE INDEX change_log_created_at ON change_log (created_at);
