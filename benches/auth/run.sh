#!/usr/bin/env bash
# Authenticated REGISTERs, ser against Kamailio (Debian's kamailio with
# kamailio-sqlite-modules), both on SQLite: each REGISTER is challenged
# (401) and sent again with credentials (auth_db, calculate_ha1, the
# subscriber's plain password), then saved (usrloc in memory). Prints the
# CPU time of each server's whole process per authenticated REGISTER.
#
#   benches/auth/run.sh [--calls N] [--rate R] [--workers N]
#
# Every REGISTER authenticates as the same subscriber (sipp's -au/-ap)
# and registers its own address of record (user<n>): ser serves the
# credentials from its cache after the first, Kamailio asks SQLite each
# time, as each does in its steady state.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CALLS=20000 RATE=1000 WORKERS=2
while [ $# -gt 0 ]; do
    case "$1" in
        --calls) CALLS=${2:?}; shift 2 ;;
        --rate) RATE=${2:?}; shift 2 ;;
        --workers) WORKERS=${2:?}; shift 2 ;;
        *) echo "usage: $0 [--calls N] [--rate R] [--workers N]" >&2; exit 2 ;;
    esac
done
SER_BIN=${SER_BIN:-$ROOT/target/release/ser}
KAMAILIO_BIN=${KAMAILIO_BIN:-/usr/sbin/kamailio}
KMODS=${KMODS:-/usr/lib/x86_64-linux-gnu/kamailio/modules}
[ -f "$KMODS/db_sqlite.so" ] || { echo "needs kamailio-sqlite-modules (apt-get install kamailio-sqlite-modules)" >&2; exit 1; }
DIR=$(mktemp -d /tmp/ser-auth-bench.XXXXXX)
PORT=5092 UAC=5093
SERVER=""
trap '[ -n "$SERVER" ] && kill $SERVER 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$DIR"' EXIT

# Kamailio's schema (only what auth_db reads), and ser's own.
python3 - "$DIR" "$ROOT/core/schema/sqlite.sql" <<'PY'
import hashlib, sqlite3, sys
d, schema = sys.argv[1], sys.argv[2]
k = sqlite3.connect(f"{d}/kam.db")
k.executescript("""
CREATE TABLE version (table_name VARCHAR(32) NOT NULL, table_version INTEGER DEFAULT 0 NOT NULL);
INSERT INTO version VALUES ('subscriber', 7);
CREATE TABLE subscriber (id INTEGER PRIMARY KEY NOT NULL, username VARCHAR(64) DEFAULT '' NOT NULL,
  domain VARCHAR(64) DEFAULT '' NOT NULL, password VARCHAR(64) DEFAULT '' NOT NULL,
  ha1 VARCHAR(128) DEFAULT '' NOT NULL, ha1b VARCHAR(128) DEFAULT '' NOT NULL);
CREATE UNIQUE INDEX subscriber_account_idx ON subscriber (username, domain);
""")
s = sqlite3.connect(f"{d}/ser.db")
s.executescript(open(schema).read())
ha1 = hashlib.md5(b"bench:127.0.0.1:secret").hexdigest()
for db in (k, s):
    db.execute("INSERT INTO subscriber (username, domain, password, ha1, ha1b) VALUES (?, ?, ?, ?, '')",
               ("bench", "127.0.0.1", "secret", ha1))
    db.commit()
PY

# Kamailio's auth_db refuses an empty realm: it gets "$td" (the same
# value, the To host, that ser takes for an empty realm).
route='if (!www_authorize("", "subscriber")) { www_challenge("", "0"); exit; } save("location");'
cat > "$DIR/ser.cfg" <<CFG
listen=udp:127.0.0.1:$PORT
children=$WORKERS
loadmodule "sl"
loadmodule "usrloc"
loadmodule "registrar"
loadmodule "auth"
loadmodule "auth_db"
modparam("auth_db", "db_url", "sqlite://$DIR/ser.db")
modparam("auth_db", "calculate_ha1", 1)
modparam("auth_db", "password_column", "password")
route { $route }
CFG
cat > "$DIR/kamailio.cfg" <<CFG
#!KAMAILIO
listen=udp:127.0.0.1:$PORT
children=$WORKERS
mpath="$KMODS/"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "db_sqlite.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
modparam("auth_db", "db_url", "sqlite://$DIR/kam.db")
modparam("auth_db", "calculate_ha1", 1)
modparam("auth_db", "password_column", "password")
modparam("auth_db", "load_credentials", "")
request_route { ${route//\"\"/\"\$td\"} }
CFG

# CPU ticks of a process and its children (Kamailio forks workers).
ticks() {
    local t=0 p
    for p in $1 $(pgrep -P "$1" || true); do
        t=$(( t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0) ))
    done
    echo $t
}
hz=$(getconf CLK_TCK)
run() {   # $1: name; the server's command follows
    local name=$1; shift
    "$@" > "$DIR/$name.log" 2>&1 &
    SERVER=$!
    sleep 2
    local before after
    before=$(ticks $SERVER)
    ( cd "$DIR" && sipp -sf "$HERE/register.xml" -i 127.0.0.1 -p $UAC -au bench -ap secret \
        -m "$CALLS" -r "$RATE" -l 2000 -recv_timeout 5000 -nostdin -trace_stat -fd 1 \
        127.0.0.1:$PORT > "$DIR/sipp-$name.out" 2>&1 ) || true
    after=$(ticks $SERVER)
    local ok failed
    ok=$(grep -E "Successful call" "$DIR/sipp-$name.out" | awk -F'|' '{gsub(/ /,"",$3); print $3}')
    failed=$(grep -E "Failed call" "$DIR/sipp-$name.out" | awk -F'|' '{gsub(/ /,"",$3); print $3}')
    kill $SERVER; wait $SERVER 2>/dev/null || true; SERVER=""
    local us=$(( (after - before) * 1000000 / hz / CALLS ))
    echo "| $name | $ok | $failed | $us |"
    eval "US_$name=$us"
}
echo "| server | authenticated REGISTERs | failed | CPU µs per REGISTER |"
echo "| --- | --- | --- | --- |"
run kamailio "$KAMAILIO_BIN" -f "$DIR/kamailio.cfg" -DD -E -m 1024 -Y "$DIR" -P "$DIR/kam.pid"
run ser "$SER_BIN" -f "$DIR/ser.cfg" -E
python3 -c "print(f'\nser / Kamailio CPU per authenticated REGISTER: {$US_ser / $US_kamailio:.2f}')"
