-- The change log of key mutations, SQLite: the same tables as on
-- PostgreSQL (see migrations/postgres/0003_change_log.sql). One process
-- serves a SQLite file, so nothing replays it yet; it keeps the two stores
-- alike and numbers every change.

CREATE TABLE change_seq (
	id  INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	seq INTEGER NOT NULL
);
INSERT INTO change_seq (id, seq) VALUES (1, 0);

CREATE TABLE change_log (
	seq        INTEGER NOT NULL PRIMARY KEY,
	account_id INTEGER NOT NULL,
	key_id     INTEGER NOT NULL,
	origin     TEXT    NOT NULL,
	created_at INTEGER NOT NULL
);
