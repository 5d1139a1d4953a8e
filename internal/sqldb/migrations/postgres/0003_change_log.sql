-- The change log of key mutations, PostgreSQL. Every transaction that
-- changes a key's verifiable state takes the next numbers from change_seq
-- (its row lock serializes those commits, so numbers are gapless and in
-- commit order) and writes one row per changed key. Instances apply the log
-- in order and replay it from the last number they applied after a lost
-- connection or a missed notification. Rows older than an hour are trimmed.

-- epoch names this numbering: a database restored from a backup, failed
-- over to a standby that lacks the last commits or created anew keeps its
-- URL but not its numbers, and an instance that sees another epoch (or a
-- number below the last it applied) drops its whole cache.
CREATE TABLE change_seq (
	id    INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	seq   BIGINT  NOT NULL,
	epoch TEXT    NOT NULL
);
INSERT INTO change_seq (id, seq, epoch) VALUES (1, 0, md5(random()::text || clock_timestamp()::text));

CREATE TABLE change_log (
	seq        BIGINT NOT NULL PRIMARY KEY,
	account_id BIGINT NOT NULL,
	key_id     BIGINT NOT NULL,
	origin     TEXT   NOT NULL,
	created_at BIGINT NOT NULL
);

CREATE INDEX change_log_created_at ON change_log (created_at);
