-- Upgrades of the ser store schema for PostgreSQL, oldest first.
--
-- Each "-- @upgrade NAME FROM TO" section brings table NAME from version
-- FROM to version TO and sets its row in `version` (Db::migrate runs the
-- sections a table needs, in order, each in a transaction). The same
-- steps are in sqlite.sql and mysql.sql; the versions are described in
-- docs/store.md.

-- @upgrade location 1 2
-- Version 1 had the Kamailio 3.1 columns; version 2 adds those of later
-- Kamailio usrloc (record id, GRUU instance and reg-id for outbound, the
-- server, connection and keep-alive of a binding, partition).
ALTER TABLE location ADD COLUMN ruid VARCHAR(64) NOT NULL DEFAULT '';
ALTER TABLE location ADD COLUMN instance VARCHAR(255);
ALTER TABLE location ADD COLUMN reg_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE location ADD COLUMN server_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE location ADD COLUMN connection_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE location ADD COLUMN keepalive INTEGER NOT NULL DEFAULT 0;
ALTER TABLE location ADD COLUMN "partition" INTEGER NOT NULL DEFAULT 0;
CREATE INDEX location_ruid ON location (ruid);
UPDATE version SET table_version = 2 WHERE table_name = 'location';

-- @upgrade aliases 1 2
-- As location.
ALTER TABLE aliases ADD COLUMN ruid VARCHAR(64) NOT NULL DEFAULT '';
ALTER TABLE aliases ADD COLUMN instance VARCHAR(255);
ALTER TABLE aliases ADD COLUMN reg_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE aliases ADD COLUMN server_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE aliases ADD COLUMN connection_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE aliases ADD COLUMN keepalive INTEGER NOT NULL DEFAULT 0;
ALTER TABLE aliases ADD COLUMN "partition" INTEGER NOT NULL DEFAULT 0;
CREATE INDEX aliases_ruid ON aliases (ruid);
UPDATE version SET table_version = 2 WHERE table_name = 'aliases';

-- @upgrade domain 1 2
-- SER 2.x's domain flags: 1 load, 2 disabled, 4 canonical and so on; a
-- disabled domain is not local.
ALTER TABLE domain ADD COLUMN flags INTEGER NOT NULL DEFAULT 0;
UPDATE version SET table_version = 2 WHERE table_name = 'domain';
