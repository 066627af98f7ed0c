#!/usr/bin/env bash
# Digest authentication under sipp, ser against Kamailio (Debian's
# kamailio with kamailio-sqlite-modules), both with auth_db on SQLite, the
# same subscriber row, the same route in each one's dialect, the same
# number of workers and the same load, one after the other. Prints the CPU
# time of each server's whole process tree per authenticated operation and
# the ratio.
#
#   benches/auth/run.sh [--mode register|call] [--calls N] [--rate R]
#                       [--workers N] [--hold MS] [--keep]
#
# --mode register (default; 20000 at 1000/s): each REGISTER is challenged
#   (401, www_challenge) and sent again with credentials (www_authorize,
#   calculate_ha1 from the subscriber's plain password), then saved
#   (usrloc in memory). Every REGISTER authenticates as the same subscriber
#   (sipp's -au/-ap) and registers its own address of record (user<n>):
#   ser serves the credentials from its cache after the first, Kamailio
#   asks SQLite each time, as each does in its steady state.
# --mode call (5000 calls at 200/s, hold 1000 ms): a sipp caller and a
#   sipp callee. The caller's INVITE is challenged 407 (proxy_challenge),
#   ACKed (absorbed by the proxy), and sent again with credentials
#   (proxy_authorize, consume_credentials); the proxy record-routes it and
#   relays it statefully (t_relay) to the callee; 100, 180, 200, the ACK and,
#   after the hold, the BYE and its 200 pass through the proxy, the
#   in-dialog requests by loose_route, never challenged.
# --keep: keep the temp dir (configs, server logs, sipp statistics).
# PERF=kamailio|ser: also `perf record -g` that server during the load
#   (perf-<server>.data in the kept temp dir).
# KAM_ARGS: more Kamailio options, e.g. KAM_ARGS="-x tlsf" (its TLSF
#   allocator for shared memory instead of the default qm; see
#   docs/benchmarks.md). KAM_SHM_MB: its -m (default 1024).
#
# Every sipp is our direct child, bounded by -timeout and by a wait with a
# deadline, and stopped by its PID; the servers too. Ports 5190-5192.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
MODE=register CALLS="" RATE="" WORKERS=2 HOLD_MS=1000 KEEP=${KEEP:-}
usage() { sed -n '9,10p' "$0" | sed 's/^# *//' >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --mode) MODE=${2:?}; shift 2 ;;
        --calls) CALLS=${2:?}; shift 2 ;;
        --rate) RATE=${2:?}; shift 2 ;;
        --workers) WORKERS=${2:?}; shift 2 ;;
        --hold) HOLD_MS=${2:?}; shift 2 ;;
        --keep) KEEP=1; shift ;;
        *) usage ;;
    esac
done
case "$MODE" in
    register) CALLS=${CALLS:-20000} RATE=${RATE:-1000} HOLD_MS=0 ;;
    call) CALLS=${CALLS:-5000} RATE=${RATE:-200} ;;
    *) usage ;;
esac
for n in "$CALLS" "$RATE" "$WORKERS"; do
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: '$n' is not a positive number" >&2; exit 2; }
done
[[ "$HOLD_MS" =~ ^[0-9]+$ ]] || { echo "run.sh: '$HOLD_MS' is not a number" >&2; exit 2; }
SER_BIN=${SER_BIN:-$ROOT/target/release/ser}
KAMAILIO_BIN=${KAMAILIO_BIN:-/usr/sbin/kamailio}
KMODS=${KMODS:-/usr/lib/x86_64-linux-gnu/kamailio/modules}
SIPP=${SIPP:-sipp}
[ -f "$KMODS/db_sqlite.so" ] || { echo "needs kamailio-sqlite-modules (apt-get install kamailio-sqlite-modules)" >&2; exit 1; }
[ -x "$SER_BIN" ] || { echo "no $SER_BIN: cargo build --release -p ser-core" >&2; exit 1; }
IP=127.0.0.1 PORT=5190 UAC=5191 UAS=5192
# Every sipp run ends by itself: the time to place the calls, the hold, a
# margin; a call waiting longer than RECV_TIMEOUT for its next message fails.
LOAD_TIMEOUT=$(( CALLS / RATE + HOLD_MS / 1000 + 30 ))
RECV_TIMEOUT=$(( HOLD_MS + 5000 ))
# Kamailio's shared memory: each call leaves its INVITE and BYE
# transactions to wt_timer (5 s); 64 MB (the default) is too small at a few
# hundred calls/s, as in benches/sipp's stateful scenario.
KAM_SHM_MB=${KAM_SHM_MB:-1024}
DIR=$(mktemp -d /tmp/ser-auth-bench.XXXXXX)

# --- processes we started: PID and start time (never a PID reused by
# someone else), stopped by PID only ----------------------------------------
starttime() {
    local stat rest f; stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    rest=${stat##*) }; read -r -a f <<<"$rest"
    [ "${f[0]}" != Z ] || return 1
    echo "${f[19]}"
}
STARTED=()
own() { local t; t=$(starttime "$1") && STARTED+=("$1:$t"); return 0; }
signal_own() {   # SIG PID: only if PID is one of ours, still the same process
    local e
    for e in "${STARTED[@]}"; do
        [ "${e%%:*}" = "$2" ] && [ "$(starttime "$2" || true)" = "${e#*:}" ] \
            && { kill "-$1" "$2" 2>/dev/null || true; return 0; }
    done
    return 0
}
alive() { starttime "$1" >/dev/null; }
RC=""
wait_exit() {    # PID SECONDS: sets RC to the exit status, or "timeout"
    local deadline=$(( SECONDS + $2 ))
    while alive "$1" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
    if alive "$1"; then RC=timeout; return 0; fi
    RC=0; wait "$1" 2>/dev/null || RC=$?
}
stop_sipp() {    # SIGUSR1 is sipp's quit; then SIGKILL
    signal_own USR1 "$1"; wait_exit "$1" 5
    [ "$RC" = timeout ] || return 0
    signal_own KILL "$1"; wait_exit "$1" 2
}
cleanup() {
    local e
    for e in "${STARTED[@]}"; do signal_own KILL "${e%%:*}"; done
    if [ -n "$KEEP" ]; then echo "logs kept in $DIR" >&2; else rm -rf "$DIR"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
log() { echo "run.sh: $*" >&2; }

# --- the store: Kamailio's schema (only what auth_db reads), and ser's ---
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

# --- the configs ---------------------------------------------------------
# One route per mode, written once; Kamailio's copy differs only where its
# dialect must: auth_db refuses an empty realm, so it gets the value ser
# takes for one ("$td", the To host, for REGISTER; "$fd", the From host,
# otherwise).
if [ "$MODE" = register ]; then
    SER_MODS='loadmodule "sl"
loadmodule "usrloc"
loadmodule "registrar"'
    KAM_MODS='loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
modparam("sl", "bind_tm", 0)'
    route='if (!www_authorize("", "subscriber")) { www_challenge("", "0"); exit; } save("location");'
    KAM_REALM='"$td"'
else
    SER_MODS='loadmodule "tm"
loadmodule "sl"
loadmodule "rr"
loadmodule "maxfwd"
loadmodule "uri"'
    # ser (SER's names): has_totag is uri's. Kamailio: tm before sl (sl
    # binds tm); has_totag is siputils'. ctl: kamcmd
    # core.shmmem before and after the load (no per-message work).
    KAM_MODS="loadmodule \"tm.so\"
loadmodule \"sl.so\"
loadmodule \"rr.so\"
loadmodule \"maxfwd.so\"
loadmodule \"pv.so\"
loadmodule \"siputils.so\"
loadmodule \"ctl.so\"
modparam(\"ctl\", \"binrpc\", \"unix:$DIR/kam.ctl\")"
    # In-dialog requests (a To tag): by their Route set, or, for an ACK
    # with none, only into its own transaction (the ACK of the 407 is
    # absorbed before the script in both servers; should one pass, it stops
    # here instead of being relayed by its Request-URI). New INVITEs: the
    # challenge, then record-route and t_relay by the Request-URI.
    route='
    if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
    if (has_totag()) {
        if (loose_route()) { if (!t_relay()) { sl_reply_error(); } exit; }
        if (method == "ACK") { if (t_check_trans()) { t_relay(); } exit; }
        sl_send_reply("404", "Not Here");
        exit;
    }
    if (!proxy_authorize("", "subscriber")) { proxy_challenge("", "0"); exit; }
    consume_credentials();
    record_route();
    if (!t_relay()) { sl_reply_error(); }
'
    KAM_REALM='"$fd"'
fi
cat > "$DIR/ser.cfg" <<CFG
listen=udp:$IP:$PORT
children=$WORKERS
$SER_MODS
loadmodule "auth"
loadmodule "auth_db"
modparam("auth_db", "db_url", "sqlite://$DIR/ser.db")
modparam("auth_db", "calculate_ha1", 1)
modparam("auth_db", "password_column", "password")
route { $route }
CFG
cat > "$DIR/kamailio.cfg" <<CFG
#!KAMAILIO
listen=udp:$IP:$PORT
children=$WORKERS
disable_tcp=yes
auto_aliases=no
dns=no
rev_dns=no
use_dns_cache=off
mpath="$KMODS/"
$KAM_MODS
loadmodule "db_sqlite.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
modparam("auth_db", "db_url", "sqlite://$DIR/kam.db")
modparam("auth_db", "calculate_ha1", 1)
modparam("auth_db", "password_column", "password")
modparam("auth_db", "load_credentials", "")
request_route { ${route//\"\"/$KAM_REALM} }
CFG

# --- measuring ---------------------------------------------------------------
tree_pids() {    # PID and all its descendants (Kamailio forks its workers)
    ps -e -o pid= -o ppid= | awk -v root="$1" '
        { parent[$1] = $2 }
        END { n = 1; list[1] = root; out = root
              for (i = 1; i <= n; i++) for (p in parent)
                  if (parent[p] == list[i]) { list[++n] = p; out = out " " p }
              print out }'
}
ticks() {        # utime + stime of PID's tree, in clock ticks
    local p stat rest f t=0
    for p in $(tree_pids "$1"); do
        stat=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        rest=${stat##*) }; read -r -a f <<<"$rest"
        t=$(( t + f[11] + f[12] ))
    done
    echo "$t"
}
hz=$(getconf CLK_TCK)
stat_last() {    # CSV COLUMN: the last value of a column of sipp's -stf file
    [ -s "$1" ] || { echo "-"; return 0; }
    awk -F';' -v col="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
                           { v = $c } END { print (v == "" ? "-" : v) }' "$1"
}
kam_shm() {      # Kamailio's shm real_used, through its control socket
    kamcmd -s "unix:$DIR/kam.ctl" core.shmmem 2>/dev/null | awk '$1 == "real_used:" { print $2 }'
}

# run NAME COMMAND...: starts the server, runs the load against it, prints
# a row and sets US_<name>.
ROWS=() NOTES=()
run() {
    local name=$1; shift
    "$@" > "$DIR/$name.log" 2>&1 &
    local server=$! ok failed retrans uas_ok uas_retrans rc_uac rc_uas=- perf_pid=""
    own "$server"
    sleep 2
    alive "$server" || { log "$name did not start:"; cat "$DIR/$name.log" >&2; exit 1; }
    local shm0="" shm1=""
    [ "$MODE" = call ] && [ "$name" = kamailio ] && shm0=$(kam_shm)
    if [ "${PERF:-}" = "$name" ]; then
        perf record -q -g -o "$DIR/perf-$name.data" -p "$(tree_pids "$server" | tr ' ' ',')" \
            >"$DIR/perf-$name.out" 2>&1 &
        perf_pid=$!; own "$perf_pid"; KEEP=1
    fi
    local before after uas=""
    before=$(ticks "$server")
    if [ "$MODE" = register ]; then
        log "$name: $CALLS authenticated REGISTERs at $RATE/s"
        "$SIPP" -sf "$HERE/register.xml" -i "$IP" -p "$UAC" -au bench -ap secret \
            -m "$CALLS" -r "$RATE" -l 2000 -recv_timeout 5000 -timeout "${LOAD_TIMEOUT}s" -nostdin \
            -trace_stat -stf "$DIR/uac-$name.csv" -trace_screen -screen_file "$DIR/uac-$name.screen" \
            -trace_err -error_file "$DIR/uac-$name.err" \
            "$IP:$PORT" > "$DIR/sipp-$name.out" 2>&1 &
    else
        "$SIPP" -sf "$HERE/call-uas.xml" -i "$IP" -p "$UAS" -s callee -m "$CALLS" \
            -recv_timeout "$RECV_TIMEOUT" -timeout "$(( LOAD_TIMEOUT + 10 ))s" -nostdin \
            -trace_stat -stf "$DIR/uas-$name.csv" -trace_screen -screen_file "$DIR/uas-$name.screen" \
            -trace_err -error_file "$DIR/uas-$name.err" > "$DIR/uas-$name.out" 2>&1 &
        uas=$!; own "$uas"
        sleep 0.5
        log "$name: $CALLS authenticated calls at $RATE/s, hold $HOLD_MS ms"
        "$SIPP" -sf "$HERE/call-uac.xml" -i "$IP" -p "$UAC" -s callee -key uas "$IP:$UAS" \
            -au bench -ap secret -d "$HOLD_MS" \
            -m "$CALLS" -r "$RATE" -l $(( RATE * (HOLD_MS / 1000 + 3) + 100 )) \
            -recv_timeout "$RECV_TIMEOUT" -timeout "${LOAD_TIMEOUT}s" -nostdin \
            -trace_stat -stf "$DIR/uac-$name.csv" -trace_screen -screen_file "$DIR/uac-$name.screen" \
            -trace_err -error_file "$DIR/uac-$name.err" \
            "$IP:$PORT" > "$DIR/sipp-$name.out" 2>&1 &
    fi
    local uac=$!; own "$uac"
    wait_exit "$uac" $(( LOAD_TIMEOUT + 10 ))
    [ "$RC" = timeout ] && { log "$name: sipp caller overran; stopping it"; stop_sipp "$uac"; }
    rc_uac=$RC
    if [ -n "$uas" ]; then
        wait_exit "$uas" 15
        [ "$RC" = timeout ] && { log "$name: sipp callee still waiting; stopping it"; stop_sipp "$uas"; }
        rc_uas=$RC
    fi
    after=$(ticks "$server")
    [ -n "$perf_pid" ] && { signal_own INT "$perf_pid"; wait_exit "$perf_pid" 20; }
    [ -n "$shm0" ] && shm1=$(kam_shm)
    signal_own TERM "$server"; wait_exit "$server" 15
    [ "$RC" = timeout ] && { signal_own KILL "$server"; wait_exit "$server" 2; }
    ok=$(stat_last "$DIR/uac-$name.csv" 'SuccessfulCall(C)')
    failed=$(stat_last "$DIR/uac-$name.csv" 'FailedCall(C)')
    retrans=$(stat_last "$DIR/uac-$name.csv" 'Retransmissions(C)')
    # Lines a healthy run does not log: errors, warnings, criticals, panics.
    # (ser's exit summary says "send errors 0": not one of them.)
    local bad
    bad=$(grep -i -E 'error|warn|crit|bug|panic' "$DIR/$name.log" | grep -c -v -E 'errors 0(,|$)' || true)
    local us="-"
    [[ "$ok" =~ ^[1-9][0-9]*$ ]] && us=$(( (after - before) * 1000000 / hz / ok ))
    if [ "$MODE" = register ]; then
        ROWS+=("| $name | $ok | $failed | $us |")
    else
        uas_ok=$(stat_last "$DIR/uas-$name.csv" 'SuccessfulCall(C)')
        uas_retrans=$(stat_last "$DIR/uas-$name.csv" 'Retransmissions(C)')
        ROWS+=("| $name | $ok | $failed | $uas_ok | $retrans / $uas_retrans | $bad | $(( (after - before) * 1000 / hz )) | $us |")
        [ -n "$shm0" ] && NOTES+=("kamailio shm real_used before the load $shm0, after $shm1 (core.shmmem)")
        NOTES+=("$name: sipp exit status caller $rc_uac, callee $rc_uas")
    fi
    [ "$bad" != 0 ] && NOTES+=("$name logged $bad error/warning lines, the first: $(grep -i -E 'error|warn|crit|bug|panic' "$DIR/$name.log" | grep -v -m1 -E 'errors 0(,|$)')")
    eval "US_$name=\$us"
}
# shellcheck disable=SC2086 # KAM_ARGS: words on purpose
run kamailio "$KAMAILIO_BIN" -f "$DIR/kamailio.cfg" -DD -E -m "$KAM_SHM_MB" ${KAM_ARGS:-} -Y "$DIR" -P "$DIR/kam.pid"
run ser "$SER_BIN" -f "$DIR/ser.cfg" -E
if [ "$MODE" = register ]; then
    echo "| server | authenticated REGISTERs | failed | CPU µs per REGISTER |"
    echo "| --- | --- | --- | --- |"
else
    echo "Authenticated calls: $CALLS at $RATE/s asked, hold $HOLD_MS ms, $WORKERS workers each, $(nproc) CPUs, Kamailio -m $KAM_SHM_MB ${KAM_ARGS:-}"
    echo
    echo "| server | calls | failed | callee complete | retransmissions (caller / callee) | log lines (error, warning) | CPU ms | CPU µs per call |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
fi
printf '%s\n' "${ROWS[@]}"
what=REGISTER; [ "$MODE" = call ] && what=call
if [[ "$US_ser" =~ ^[0-9]+$ ]] && [[ "$US_kamailio" =~ ^[1-9][0-9]*$ ]]; then
    python3 -c "print(f'\nser / Kamailio CPU per authenticated $what: {$US_ser / $US_kamailio:.2f}')"
fi
for n in "${NOTES[@]}"; do echo "- $n"; done
