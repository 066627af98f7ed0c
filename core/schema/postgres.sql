-- The ser store schema for PostgreSQL, at the current version of every
-- table.
--
-- ser runs it by itself (Db::migrate): each "-- @table NAME VERSION"
-- section creates one table, its indexes and its row in `version`, and runs
-- when that table is missing. It can also be run by hand:
--     psql -h HOST -U ser -d ser -f core/schema/postgres.sql
-- Upgrades from older versions are in migrations/postgres.sql. The same
-- tables, columns and versions are in sqlite.sql and mysql.sql; a test
-- checks that the three agree. Times are integer Unix seconds.
-- docs/store.md describes every table and its differences from Kamailio.

-- @table version 1
CREATE TABLE version (
    table_name VARCHAR(32) NOT NULL PRIMARY KEY,
    table_version INTEGER NOT NULL DEFAULT 0
);
INSERT INTO version (table_name, table_version) VALUES ('version', 1);

-- @table subscriber 1
CREATE TABLE subscriber (
    id SERIAL PRIMARY KEY,
    username VARCHAR(64) NOT NULL DEFAULT '',
    domain VARCHAR(64) NOT NULL DEFAULT '',
    password VARCHAR(64) NOT NULL DEFAULT '',
    email_address VARCHAR(128) NOT NULL DEFAULT '',
    ha1 VARCHAR(128) NOT NULL DEFAULT '',
    ha1b VARCHAR(128) NOT NULL DEFAULT '',
    CONSTRAINT subscriber_account UNIQUE (username, domain)
);
CREATE INDEX subscriber_username ON subscriber (username);
INSERT INTO version (table_name, table_version) VALUES ('subscriber', 1);

-- @table location 2
CREATE TABLE location (
    id SERIAL PRIMARY KEY,
    ruid VARCHAR(64) NOT NULL DEFAULT '',
    username VARCHAR(64) NOT NULL DEFAULT '',
    domain VARCHAR(64) NOT NULL DEFAULT '',
    contact VARCHAR(512) NOT NULL DEFAULT '',
    received VARCHAR(128),
    path VARCHAR(512),
    expires BIGINT NOT NULL DEFAULT 0,
    q DOUBLE PRECISION NOT NULL DEFAULT 1.0,
    callid VARCHAR(255) NOT NULL DEFAULT 'Default-Call-ID',
    cseq BIGINT NOT NULL DEFAULT 1,
    last_modified BIGINT NOT NULL DEFAULT 0,
    flags BIGINT NOT NULL DEFAULT 0,
    cflags BIGINT NOT NULL DEFAULT 0,
    user_agent VARCHAR(255) NOT NULL DEFAULT '',
    socket VARCHAR(64),
    methods BIGINT,
    instance VARCHAR(255),
    reg_id BIGINT NOT NULL DEFAULT 0,
    server_id INTEGER NOT NULL DEFAULT 0,
    connection_id INTEGER NOT NULL DEFAULT 0,
    keepalive INTEGER NOT NULL DEFAULT 0,
    "partition" INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT location_account_contact UNIQUE (username, domain, contact)
);
CREATE INDEX location_expires ON location (expires);
CREATE INDEX location_ruid ON location (ruid);
INSERT INTO version (table_name, table_version) VALUES ('location', 2);

-- @table aliases 2
CREATE TABLE aliases (
    id SERIAL PRIMARY KEY,
    ruid VARCHAR(64) NOT NULL DEFAULT '',
    username VARCHAR(64) NOT NULL DEFAULT '',
    domain VARCHAR(64) NOT NULL DEFAULT '',
    contact VARCHAR(512) NOT NULL DEFAULT '',
    received VARCHAR(128),
    path VARCHAR(512),
    expires BIGINT NOT NULL DEFAULT 0,
    q DOUBLE PRECISION NOT NULL DEFAULT 1.0,
    callid VARCHAR(255) NOT NULL DEFAULT 'Default-Call-ID',
    cseq BIGINT NOT NULL DEFAULT 1,
    last_modified BIGINT NOT NULL DEFAULT 0,
    flags BIGINT NOT NULL DEFAULT 0,
    cflags BIGINT NOT NULL DEFAULT 0,
    user_agent VARCHAR(255) NOT NULL DEFAULT '',
    socket VARCHAR(64),
    methods BIGINT,
    instance VARCHAR(255),
    reg_id BIGINT NOT NULL DEFAULT 0,
    server_id INTEGER NOT NULL DEFAULT 0,
    connection_id INTEGER NOT NULL DEFAULT 0,
    keepalive INTEGER NOT NULL DEFAULT 0,
    "partition" INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT aliases_account_contact UNIQUE (username, domain, contact)
);
CREATE INDEX aliases_expires ON aliases (expires);
CREATE INDEX aliases_ruid ON aliases (ruid);
INSERT INTO version (table_name, table_version) VALUES ('aliases', 2);

-- @table domain 2
CREATE TABLE domain (
    id SERIAL PRIMARY KEY,
    domain VARCHAR(64) NOT NULL,
    did VARCHAR(64),
    last_modified BIGINT NOT NULL DEFAULT 0,
    flags INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT domain_domain UNIQUE (domain)
);
INSERT INTO version (table_name, table_version) VALUES ('domain', 2);

-- @table trusted 1
CREATE TABLE trusted (
    id SERIAL PRIMARY KEY,
    src_ip VARCHAR(50) NOT NULL,
    proto VARCHAR(4) NOT NULL,
    from_pattern VARCHAR(64),
    ruri_pattern VARCHAR(64),
    tag VARCHAR(64),
    priority INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX trusted_peer ON trusted (src_ip);
INSERT INTO version (table_name, table_version) VALUES ('trusted', 1);

-- @table address 1
CREATE TABLE address (
    id SERIAL PRIMARY KEY,
    grp INTEGER NOT NULL DEFAULT 1,
    ip_addr VARCHAR(50) NOT NULL,
    mask INTEGER NOT NULL DEFAULT 32,
    port SMALLINT NOT NULL DEFAULT 0,
    tag VARCHAR(64)
);
INSERT INTO version (table_name, table_version) VALUES ('address', 1);

-- @table usr_preferences 1
CREATE TABLE usr_preferences (
    id SERIAL PRIMARY KEY,
    uuid VARCHAR(64) NOT NULL DEFAULT '',
    username VARCHAR(128) NOT NULL DEFAULT '',
    domain VARCHAR(64) NOT NULL DEFAULT '',
    attribute VARCHAR(32) NOT NULL DEFAULT '',
    type INTEGER NOT NULL DEFAULT 0,
    value VARCHAR(128) NOT NULL DEFAULT '',
    last_modified BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX usr_preferences_ua ON usr_preferences (uuid, attribute);
CREATE INDEX usr_preferences_uda ON usr_preferences (username, domain, attribute);
INSERT INTO version (table_name, table_version) VALUES ('usr_preferences', 1);

-- @table acc 1
CREATE TABLE acc (
    id SERIAL PRIMARY KEY,
    method VARCHAR(16) NOT NULL DEFAULT '',
    from_tag VARCHAR(64) NOT NULL DEFAULT '',
    to_tag VARCHAR(64) NOT NULL DEFAULT '',
    callid VARCHAR(255) NOT NULL DEFAULT '',
    sip_code VARCHAR(3) NOT NULL DEFAULT '',
    sip_reason VARCHAR(128) NOT NULL DEFAULT '',
    time BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX acc_callid ON acc (callid);
INSERT INTO version (table_name, table_version) VALUES ('acc', 1);

-- @table missed_calls 1
CREATE TABLE missed_calls (
    id SERIAL PRIMARY KEY,
    method VARCHAR(16) NOT NULL DEFAULT '',
    from_tag VARCHAR(64) NOT NULL DEFAULT '',
    to_tag VARCHAR(64) NOT NULL DEFAULT '',
    callid VARCHAR(255) NOT NULL DEFAULT '',
    sip_code VARCHAR(3) NOT NULL DEFAULT '',
    sip_reason VARCHAR(128) NOT NULL DEFAULT '',
    time BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX missed_calls_callid ON missed_calls (callid);
INSERT INTO version (table_name, table_version) VALUES ('missed_calls', 1);

-- @table credentials 1
-- SER 2.x: digest credentials of a user, uid, by auth_username and realm,
-- for auth_db's www_authenticate and proxy_authenticate on "credentials".
CREATE TABLE credentials (
    id SERIAL PRIMARY KEY,
    auth_username VARCHAR(64) NOT NULL,
    did VARCHAR(64) NOT NULL DEFAULT '_default',
    realm VARCHAR(64) NOT NULL,
    password VARCHAR(64) NOT NULL DEFAULT '',
    flags INTEGER NOT NULL DEFAULT 0,
    ha1 VARCHAR(128) NOT NULL DEFAULT '',
    ha1b VARCHAR(128) NOT NULL DEFAULT '',
    uid VARCHAR(64) NOT NULL
);
CREATE INDEX credentials_cred ON credentials (auth_username, realm);
CREATE INDEX credentials_uid ON credentials (uid);
INSERT INTO version (table_name, table_version) VALUES ('credentials', 1);

-- @table uri 1
-- SER 2.x: the URIs of each uid, as username at the domain did with a
-- scheme, for uri_db's lookup_user.
CREATE TABLE uri (
    id SERIAL PRIMARY KEY,
    uid VARCHAR(64) NOT NULL,
    did VARCHAR(64) NOT NULL,
    username VARCHAR(64) NOT NULL,
    flags INTEGER NOT NULL DEFAULT 0,
    scheme VARCHAR(8) NOT NULL DEFAULT 'sip'
);
CREATE INDEX uri_uri ON uri (username, did, scheme);
CREATE INDEX uri_uid ON uri (uid);
INSERT INTO version (table_name, table_version) VALUES ('uri', 1);

-- @table user_attrs 1
-- SER 2.x: attributes of a user, for avp_db's load_attrs on $fu or $tu.
-- type 2 is a string, anything else an integer.
CREATE TABLE user_attrs (
    id SERIAL PRIMARY KEY,
    uid VARCHAR(64) NOT NULL,
    name VARCHAR(32) NOT NULL,
    value VARCHAR(128),
    type INTEGER NOT NULL DEFAULT 0,
    flags INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT user_attrs_uid_name_value UNIQUE (uid, name, value)
);
INSERT INTO version (table_name, table_version) VALUES ('user_attrs', 1);

-- @table uri_attrs 1
-- SER 2.x: attributes of a URI, for load_attrs on $fr or $tr.
CREATE TABLE uri_attrs (
    id SERIAL PRIMARY KEY,
    username VARCHAR(64) NOT NULL,
    did VARCHAR(64) NOT NULL,
    name VARCHAR(32) NOT NULL,
    value VARCHAR(128),
    type INTEGER NOT NULL DEFAULT 0,
    flags INTEGER NOT NULL DEFAULT 0,
    scheme VARCHAR(8) NOT NULL DEFAULT 'sip',
    CONSTRAINT uri_attrs_uri_name_value UNIQUE (username, did, name, value, scheme)
);
INSERT INTO version (table_name, table_version) VALUES ('uri_attrs', 1);

-- @table domain_attrs 1
-- SER 2.x: attributes of a domain by did, loaded with the domain table
-- when the domain module's load_domain_attrs is set.
CREATE TABLE domain_attrs (
    id SERIAL PRIMARY KEY,
    did VARCHAR(64),
    name VARCHAR(32) NOT NULL,
    type INTEGER NOT NULL DEFAULT 0,
    value VARCHAR(128),
    flags INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT domain_attrs_did_name_value UNIQUE (did, name, value)
);
INSERT INTO version (table_name, table_version) VALUES ('domain_attrs', 1);

-- @table global_attrs 1
-- SER 2.x: global attributes, loaded at start by gflags' load_global_attrs.
CREATE TABLE global_attrs (
    id SERIAL PRIMARY KEY,
    name VARCHAR(32) NOT NULL,
    type INTEGER NOT NULL DEFAULT 0,
    value VARCHAR(128),
    flags INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT global_attrs_name_value UNIQUE (name, value)
);
INSERT INTO version (table_name, table_version) VALUES ('global_attrs', 1);
