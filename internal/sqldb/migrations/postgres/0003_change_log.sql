-- The change log of key mutations, PostgreSQL. Every transaction that
-- changes a key's verifiable state takes the next numbers from change_seq
-- (its row lock serializes those commits, so numbers are gapless and in
-- commit order) and writes one row per changed key. Instances apply the log
-- in order and replay it from the last number they applied after a lost
-- connection or a missed notification. Rows older than an hour are trimmed.

CREATE TABLE change_seq (
	id  INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	seq BIGINT  NOT NULL
);
INSERT INTO change_seq (id, seq) VALUES (1, 0);

CREATE TABLE change_log (
	seq        BIGINT NOT NULL PRIMARY KEY,
	account_id BIGINT NOT NULL,
	key_id     BIGINT NOT NULL,
	origin     TEXT   NOT NULL,
	created_at BIGINT NOT NULL
);
