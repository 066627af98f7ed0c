#!/usr/bin/env bash
# ser vs Kamailio under sipp, same load, same run.
#
#   benches/sipp/run.sh [--scenario calls|register] [--calls N] [--rate R]
#                       [--only ser|kamailio] [--ser-epoll] [--hold MS]
#                       [--workers N] [--keep] [--memory]
#
# --scenario calls (default): stateless forwarding. For each server: start
# it on 127.0.0.1:5060 (2 workers), wait until it answers, run a sipp UAS
# (127.0.0.1:5080) and a sipp UAC (127.0.0.1:5070) through it, read the CPU
# time of the server's whole process tree, stop it with SIGTERM, and print
# one markdown table.
# --scenario register: the same, but the server is a registrar
# (save("location")) and a sipp UAC sends one REGISTER per call, each for a
# new user; no UAS. --calls is then the number of REGISTERs.
# --memory (implies --scenario register; 200000 REGISTERs at 3000/s unless
# --calls/--rate say otherwise): also read each server's memory once it
# answers and again after the load, and print bytes per binding
# (Kamailio: shm real_used through kamcmd, run with -m 1024; ser: VmRSS).
# See README.md next to this file.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

# --- settings ---------------------------------------------------------------
SCENARIO=calls       # calls (stateless forwarding) or register (registrar)
CALLS=""             # calls (or REGISTERs) per server; default below
CALLS_DEFAULT=20000
CALLS_MEMORY=200000  # --memory: bindings per server
RATE=""              # per second asked of the UAC; default per scenario below
RATE_CALLS=1500      # calls: 2000 lost calls now and then
RATE_REGISTER=2000   # register
RATE_MEMORY=3000     # register --memory
MEMORY=0             # 1: --memory (bytes per registered contact)
KAM_SHM_MB=1024      # --memory: Kamailio -m (its default 64 MB is too small)
HOLD_MS=1000         # pause between ACK and BYE (sipp -d; calls only)
ONLY=""              # "", ser or kamailio
SER_EPOLL=0          # 1: add a row for ser -W epoll
SCENARIO_SET=0       # 1: --scenario was given
KEEP=0               # 1: keep the temp dir with the logs
WORKERS=2            # children= in both configs (--workers; shown in the table)
IP=127.0.0.1
PROXY_PORT=5060 UAS_PORT=5080 UAC_PORT=5070
SER_BIN=${SER_BIN:-$ROOT/target/release/ser}
KAMAILIO_BIN=${KAMAILIO_BIN:-/usr/sbin/kamailio}
SIPP=${SIPP:-sipp}
KAMCMD=${KAMCMD:-kamcmd}     # register: reads Kamailio's bindings
READY_TIMEOUT=15     # s for a server to answer the probe
STOP_TIMEOUT=10      # s for a server to exit after SIGTERM

usage() { sed -n '4,6p' "$0" | sed 's/^# *//' >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --scenario) SCENARIO=${2:?}; SCENARIO_SET=1; shift 2 ;;
        --calls) CALLS=${2:?}; shift 2 ;;
        --rate) RATE=${2:?}; shift 2 ;;
        --hold) HOLD_MS=${2:?}; shift 2 ;;
        --workers) WORKERS=${2:?}; shift 2 ;;
        --only) ONLY=${2:?}; shift 2 ;;
        --ser-epoll) SER_EPOLL=1; shift ;;
        --keep) KEEP=1; shift ;;
        --memory) MEMORY=1; shift ;;
        -h|--help) usage ;;
        *) echo "run.sh: unknown argument '$1'" >&2; usage ;;
    esac
done
case "$ONLY" in ""|ser|kamailio) ;; *) echo "run.sh: --only takes ser or kamailio" >&2; exit 2 ;; esac
if [ "$MEMORY" = 1 ]; then
    [ "$SCENARIO" = calls ] && [ "$SCENARIO_SET" = 1 ] \
        && { echo "run.sh: --memory needs --scenario register" >&2; exit 2; }
    SCENARIO=register
    CALLS=${CALLS:-$CALLS_MEMORY} RATE=${RATE:-$RATE_MEMORY}
fi
CALLS=${CALLS:-$CALLS_DEFAULT}
case "$SCENARIO" in
    calls) CFG_NAME=stateless; RATE=${RATE:-$RATE_CALLS} ;;
    register) CFG_NAME=register; RATE=${RATE:-$RATE_REGISTER} ;;
    *) echo "run.sh: --scenario takes calls or register" >&2; exit 2 ;;
esac
for n in "$CALLS" "$RATE" "$HOLD_MS" "$WORKERS"; do
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: '$n' is not a positive number" >&2; exit 2; }
done
command -v "$SIPP" >/dev/null || { echo "run.sh: sipp not found (Debian: sip-tester)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "run.sh: python3 not found (used for the probe)" >&2; exit 2; }

# A REGISTER has no hold.
[ "$SCENARIO" = register ] && HOLD_MS=0
# Every sipp run is bounded: creation time + hold + a generous margin.
LOAD_TIMEOUT=$(( CALLS / RATE + HOLD_MS / 1000 + 60 ))
# A call waiting longer than this for its next message fails (sipp
# -recv_timeout, ms): a lost message costs a failed call, never a hang.
RECV_TIMEOUT=$(( HOLD_MS + 5000 ))
TCK=$(getconf CLK_TCK)

# --- temp dir, and cleanup of what we started (by PID only) -----------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ser-sipp.XXXXXX")
# Both configs with the same number of workers (children=). Kamailio's
# control socket (register: to count its bindings) goes into the temp dir.
KAM_CFG="$TMP/kamailio-$CFG_NAME.cfg" SER_CFG="$TMP/ser-$CFG_NAME.cfg"
KAM_CTL="$TMP/kamailio-ctl.sock"
# --memory also loads kex, for kamcmd pkg.stats (Kamailio's private memory;
# kex counts every request and reply, so the plain throughput run goes without).
KAM_KEX=""
[ "$MEMORY" = 1 ] && KAM_KEX='/^loadmodule "counters.so"/a loadmodule "kex.so"'
sed -e "s/^children=.*/children=$WORKERS/" -e "s|unix:/run/kamailio/kamailio_ctl|unix:$KAM_CTL|" \
    ${KAM_KEX:+-e "$KAM_KEX"} "$HERE/kamailio-$CFG_NAME.cfg" >"$KAM_CFG"
sed "s/^children=.*/children=$WORKERS/" "$HERE/ser-$CFG_NAME.cfg" >"$SER_CFG"

# A process is identified by PID and start time (field 22 of its stat), so a
# PID reused by someone else after ours exited is never signalled.
starttime() {
    local stat; stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    local rest=${stat##*) } f; read -r -a f <<<"$rest"   # f[0] is field 3
    [ "${f[0]}" != Z ] || return 1                        # a zombie is gone
    echo "${f[19]}"
}
STARTED=()           # "pid:starttime" of every process this script started
own() { local p t; for p in "$@"; do t=$(starttime "$p") && STARTED+=("$p:$t"); done; return 0; }
alive() { starttime "$1" >/dev/null; }
# Sends signal $1 to the processes of ours among the PIDs given.
signal_own() {
    local sig=$1 e p; shift
    for p in "$@"; do
        for e in "${STARTED[@]}"; do
            [ "${e%%:*}" = "$p" ] && [ "$(starttime "$p" || true)" = "${e#*:}" ] \
                && { kill "-$sig" "$p" 2>/dev/null || true; break; }
        done
    done
    return 0
}
cleanup() {
    local e
    for e in "${STARTED[@]}"; do signal_own KILL "${e%%:*}"; done
    if [ "$KEEP" = 1 ]; then echo "logs kept in $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "run.sh: $*" >&2; }

# --- helpers -----------------------------------------------------------------

# The PID given and all its descendants (Kamailio forks its workers).
tree_pids() {
    ps -e -o pid= -o ppid= | awk -v root="$1" '
        { parent[$1] = $2 }
        END {
            n = 1; list[1] = root; out = root
            for (i = 1; i <= n; i++)
                for (p in parent)
                    if (parent[p] == list[i]) { list[++n] = p; out = out " " p }
            print out
        }'
}

# utime+stime (fields 14+15 of /proc/PID/stat, in clock ticks) summed over
# the PIDs given; a process's stat already includes all its threads.
cpu_ticks() {
    local p stat rest f sum=0
    for p in "$@"; do
        stat=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        rest=${stat##*) }              # skip "pid (comm) ": comm may hold spaces
        read -r -a f <<<"$rest"        # f[0] is field 3, so 14 -> 11, 15 -> 12
        sum=$(( sum + f[11] + f[12] ))
    done
    echo "$sum"
}

# Fails if something already listens on UDP IP:port.
port_free() {
    python3 - "$IP" "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.bind((sys.argv[1], int(sys.argv[2])))
except OSError:
    sys.exit(1)
EOF
}

# Waits until the proxy answers an OPTIONS with Max-Forwards: 0 (the script's
# mf_process_maxfwd_header makes the proxy itself reply 483: nothing is
# forwarded). Gives up after READY_TIMEOUT s or when PID dies.
wait_ready() {
    local pid=$1 deadline=$(( SECONDS + READY_TIMEOUT ))
    while [ "$SECONDS" -lt "$deadline" ]; do
        alive "$pid" || return 1
        if python3 - "$IP" "$PROXY_PORT" <<'EOF'
import socket, sys
ip, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((ip, 0)); s.settimeout(0.3)
me = s.getsockname()[1]
msg = ("OPTIONS sip:probe@%s:%d SIP/2.0\r\n"
       "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK-probe-%d\r\n"
       "Max-Forwards: 0\r\nFrom: <sip:probe@%s>;tag=probe\r\nTo: <sip:probe@%s>\r\n"
       "Call-ID: probe-%d@%s\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
       % (ip, port, ip, me, me, ip, ip, me, ip)).encode()
s.sendto(msg, (ip, port))
try:
    sys.exit(0 if s.recv(4096).startswith(b"SIP/2.0 ") else 1)
except OSError:
    sys.exit(1)
EOF
        then return 0; fi
        sleep 0.2
    done
    return 1
}

# Waits up to $2 seconds for PID $1 (our child) to exit. Sets RC to its exit
# status, or to "timeout". (Not in $(...): a subshell cannot wait for it.)
RC=""
wait_exit() {
    local pid=$1 deadline=$(( SECONDS + $2 ))
    while alive "$pid" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
    if alive "$pid"; then RC=timeout; return 0; fi
    RC=0; wait "$pid" 2>/dev/null || RC=$?
}

# Stops a sipp of ours: SIGUSR1 is sipp's "quit" (stop placing calls, wait
# for the active ones), a second SIGUSR1 stops waiting; SIGKILL last.
# Sets RC like wait_exit.
stop_sipp() {
    signal_own USR1 "$1"; wait_exit "$1" 2
    [ "$RC" = timeout ] || return 0
    signal_own USR1 "$1"; wait_exit "$1" 5
    [ "$RC" = timeout ] || return 0
    signal_own KILL "$1"; wait_exit "$1" 2
}

# Value of column $2 in the last row of sipp's stat CSV $1 (';'-separated).
stat_last() {
    awk -F';' -v col="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
                           { v = $c } END { print v }' "$1"
}
# "HH:MM:SS:uuuuuu" -> seconds; "date<TAB>time<TAB>epoch" -> epoch.
hms_s() { awk -F: '{ printf "%.6f", $1*3600 + $2*60 + $3 + $4/1e6 }' <<<"$1"; }
epoch_s() { awk -F'\t' '{ print $3 }' <<<"$1"; }

# --- the two loads -------------------------------------------------------------
# Each runs its sipp(s) against the server in $PROXY_PORT and sets:
#   CHECK    the scenario's own check (calls: calls the UAS completed;
#            register: set later by count_bindings)
#   LOAD_RC  how the sipps exited, for the status column

# Calls: UAS first (it exits by itself after CALLS calls), then the UAC.
# Both sipps are our direct children (no wrapper: a signal must reach sipp
# itself); sipp's -timeout and wait_exit bound them.
load_calls() {
    local name=$1 dir=$2
    "$SIPP" -sf "$HERE/uas.xml" -i "$IP" -p "$UAS_PORT" \
        -m "$CALLS" -recv_timeout "$RECV_TIMEOUT" -timeout "$(( LOAD_TIMEOUT + 15 ))s" -nostdin -trace_stat -stf "$dir/uas.csv" \
        -trace_screen -screen_file "$dir/uas.screen" -trace_err -error_file "$dir/uas.err" \
        >"$dir/uas.out" 2>&1 &
    local uas=$!
    own "$uas"
    local t=0
    while port_free "$UAS_PORT"; do               # until the UAS has bound its port
        sleep 0.1; t=$(( t + 1 ))
        [ "$t" -lt 50 ] && alive "$uas" || { log "$name: sipp UAS did not start"; cat "$dir/uas.out" >&2; exit 1; }
    done

    log "$name: $CALLS calls at $RATE/s (hold ${HOLD_MS} ms)"
    run_uac "$name" "$dir" "$HERE/uac.xml" -s service -key uas "$IP:$UAS_PORT" -d "$HOLD_MS"
    local uac_rc=$RC
    # The UAS ends CALLS calls after its timewait; a lost call keeps it
    # waiting, so bound it and stop it softly (SIGUSR1 = sipp's "quit").
    local uas_rc; wait_exit "$uas" 15; uas_rc=$RC
    if [ "$uas_rc" = timeout ]; then
        log "$name: sipp UAS still waiting for calls; stopping it"
        stop_sipp "$uas"; uas_rc=$RC
    fi
    CHECK=0
    [ -s "$dir/uas.csv" ] && CHECK=$(stat_last "$dir/uas.csv" 'SuccessfulCall(C)')
    LOAD_RC="UAC exit $uac_rc, UAS exit $uas_rc"
}

# Register: the UAC alone; the server answers every REGISTER itself.
load_register() {
    local name=$1 dir=$2
    log "$name: $CALLS REGISTERs at $RATE/s, one new user each"
    run_uac "$name" "$dir" "$HERE/register.xml"
    CHECK="-"
    LOAD_RC="UAC exit $RC"
}

# run_uac NAME DIR SCENARIO [sipp options...]: the sipp UAC, bounded; sets
# RC like wait_exit.
run_uac() {
    local name=$1 dir=$2 sf=$3; shift 3
    "$SIPP" "$IP:$PROXY_PORT" -sf "$sf" "$@" -i "$IP" -p "$UAC_PORT" \
        -m "$CALLS" -r "$RATE" -rp 1000 -recv_timeout "$RECV_TIMEOUT" -timeout "${LOAD_TIMEOUT}s" -nostdin \
        -trace_stat -stf "$dir/uac.csv" -trace_screen -screen_file "$dir/uac.screen" \
        -trace_err -error_file "$dir/uac.err" >"$dir/uac.out" 2>&1 &
    local uac=$!
    own "$uac"
    wait_exit "$uac" "$(( LOAD_TIMEOUT + 10 ))"
    if [ "$RC" = timeout ]; then
        log "$name: sipp UAC overran ${LOAD_TIMEOUT}s; stopping it"
        stop_sipp "$uac"
    fi
}

# Register, after the CPU is read and before SIGTERM: the number of
# Kamailio's bindings (usrloc's location_contacts counter), through its
# control socket. (ser prints its count at exit, read with its counters.)
count_bindings() {
    [ "$SCENARIO" = register ] && [ "$1" = kamailio ] || return 0
    local n
    if n=$(timeout 10 "$KAMCMD" -s "unix:$KAM_CTL" cnt.get usrloc location_contacts 2>"$2/kamcmd.err") \
        && [[ "$n" =~ ^[0-9]+$ ]]; then
        CHECK=$n
    else
        log "kamailio: could not read its bindings: $n"; sed 's/^/    /' "$2/kamcmd.err" >&2
    fi
}

# --memory: one reading of server $1's memory (main PID $2, dir $3), printed
# as "MAIN DETAIL": MAIN is the figure the table compares, DETAIL goes in
# the notes. Kamailio keeps its bindings in shared memory: MAIN is
# core.shmmem's real_used (used + the allocator's fragment headers), DETAIL
# its used and pkg.stats' real_used summed over its processes. ser is one
# process: MAIN is VmRSS (/proc/PID/status), DETAIL smaps_rollup's
# Private_Dirty. All in bytes.
mem_read() {
    local name=$1 pid=$2 dir=$3 out
    if [ "$name" = kamailio ]; then
        out=$(timeout 10 "$KAMCMD" -s "unix:$KAM_CTL" core.shmmem 2>>"$dir/kamcmd.err") || return 1
        local real used pkg
        real=$(awk '$1 == "real_used:" { print $2 }' <<<"$out")
        used=$(awk '$1 == "used:" { print $2 }' <<<"$out")
        out=$(timeout 10 "$KAMCMD" -s "unix:$KAM_CTL" pkg.stats 2>>"$dir/kamcmd.err") || return 1
        pkg=$(awk '$1 == "real_used:" { s += $2; n++ } END { if (n) print s " (" n " processes)" }' <<<"$out")
        [[ "$real" =~ ^[0-9]+$ ]] || return 1
        echo "$real shm used $used, pkg real_used $pkg"
    else
        local rss pd
        rss=$(awk '$1 == "VmRSS:" { print $2 * 1024 }' "/proc/$pid/status") || return 1
        pd=$(awk '$1 == "Private_Dirty:" { print $2 * 1024 }' "/proc/$pid/smaps_rollup" 2>/dev/null || true)
        [[ "$rss" =~ ^[0-9]+$ ]] || return 1
        echo "$rss Private_Dirty ${pd:--}"
    fi
}

# --- one server --------------------------------------------------------------

ROWS=()              # table rows
MEM_ROWS=()          # --memory: the memory table's rows
KAM_BPB=""           # --memory: Kamailio's bytes per binding
NOTES=()             # lines printed under the table
KAM_US=""            # Kamailio's CPU us/call, for the ratio column
STATUS=0             # exit status: 1 if any row lost calls or did not run

# run_one NAME: NAME is kamailio, ser or ser-epoll.
run_one() {
    local name=$1 dir="$TMP/$1" cmd=() label=$1
    mkdir -p "$dir"
    case "$name" in
        kamailio)
            cmd=("$KAMAILIO_BIN" -f "$KAM_CFG" -DD -E -P "$dir/kamailio.pid")
            [ "$MEMORY" = 1 ] && cmd+=(-m "$KAM_SHM_MB") ;;
        ser|ser-epoll)
            if [ ! -x "$SER_BIN" ]; then
                ROWS+=("| $name | $WORKERS | - | - | - | - | - | - | - | - | - | not run: no $SER_BIN (cargo build --release -p ser-core) |")
                STATUS=1; return
            fi
            # ser -c first: exit 4 names the functions it does not run yet.
            local crc=0
            "$SER_BIN" -c -f "$SER_CFG" >"$dir/check.log" 2>&1 || crc=$?
            if [ "$crc" != 0 ]; then
                log "$name: ser -c exited $crc:"; sed 's/^/    /' "$dir/check.log" >&2
                ROWS+=("| $name | $WORKERS | - | - | - | - | - | - | - | - | - | not run: ser -c exit $crc |")
                STATUS=1; return
            fi
            cmd=("$SER_BIN" -f "$SER_CFG" -E)
            [ "$name" = ser-epoll ] && cmd+=(-W epoll) ;;
    esac

    for port in "$PROXY_PORT" "$UAS_PORT" "$UAC_PORT"; do
        port_free "$port" || { log "UDP $IP:$port is busy; another run going on?"; exit 1; }
    done

    # Start the server in the foreground (as our child), logs to a file.
    log "$name: starting: ${cmd[*]}"
    "${cmd[@]}" >"$dir/server.log" 2>&1 &
    local spid=$!
    own "$spid"
    if ! wait_ready "$spid"; then
        log "$name: did not answer within ${READY_TIMEOUT}s; its log:"
        tail -n 20 "$dir/server.log" | sed 's/^/    /' >&2
        local rc; wait_exit "$spid" 0; rc=$RC
        if [ "$rc" = timeout ]; then signal_own TERM "$spid"; wait_exit "$spid" "$STOP_TIMEOUT"; rc=$RC; fi
        ROWS+=("| $name | $WORKERS | - | - | - | - | - | - | - | - | - | did not start (exit $rc) |")
        STATUS=1; return
    fi
    # Kamailio's workers exist now: remember them for the cleanup.
    local pids; pids=$(tree_pids "$spid")
    # shellcheck disable=SC2086
    own $pids
    local nproc; nproc=$(wc -w <<<"$pids")
    # ser says which I/O method it uses: show it in the server column.
    local io; io=$(grep -o -m1 'using io_uring\|using epoll' "$dir/server.log" | sed 's/using //' || true)
    label="${name%-epoll}${io:+ ($io)}"
    local mem0="" mem1=""
    if [ "$MEMORY" = 1 ]; then
        mem0=$(mem_read "$name" "$spid" "$dir") || { log "$name: could not read its memory"; mem0=""; }
    fi
    # shellcheck disable=SC2086
    local cpu0; cpu0=$(cpu_ticks $pids)

    CHECK="-" LOAD_RC=""
    "load_$SCENARIO" "$name" "$dir"

    # CPU of the whole tree just before stopping (re-read the tree: a
    # worker Kamailio restarted would be new), then SIGTERM.
    pids=$(tree_pids "$spid")
    # shellcheck disable=SC2086
    own $pids
    # shellcheck disable=SC2086
    local cpu1; cpu1=$(cpu_ticks $pids)
    if [ "$MEMORY" = 1 ]; then
        mem1=$(mem_read "$name" "$spid" "$dir") || { log "$name: could not read its memory"; mem1=""; }
    fi
    count_bindings "$name" "$dir"
    signal_own TERM "$spid"
    local src; wait_exit "$spid" "$STOP_TIMEOUT"; src=$RC
    if [ "$src" = timeout ]; then
        log "$name: still running ${STOP_TIMEOUT}s after SIGTERM; killing its processes"
        # shellcheck disable=SC2086
        signal_own KILL $pids
        wait_exit "$spid" 2; src=$RC
    fi

    # sipp UAC's counters (its stat CSV, last row).
    local ok=0 failed=0 retrans=0 rate="-"
    if [ -s "$dir/uac.csv" ]; then
        ok=$(stat_last "$dir/uac.csv" 'SuccessfulCall(C)')
        failed=$(stat_last "$dir/uac.csv" 'FailedCall(C)')
        retrans=$(stat_last "$dir/uac.csv" 'Retransmissions(C)')
        # Rate achieved: calls created / the time over which they were created
        # (elapsed minus the average call length; the hold is part of that).
        local created start end len
        created=$(stat_last "$dir/uac.csv" 'OutgoingCall(C)')
        start=$(epoch_s "$(stat_last "$dir/uac.csv" StartTime)")
        end=$(epoch_s "$(stat_last "$dir/uac.csv" CurrentTime)")
        len=$(hms_s "$(stat_last "$dir/uac.csv" 'CallLength(C)')")
        rate=$(awk -v n="$created" -v s="$start" -v e="$end" -v l="$len" \
            'BEGIN { d = e - s - l; if (d > 0) printf "%.0f", n / d; else print "-" }')
    else
        log "$name: no UAC statistics; sipp said:"; tail -n 5 "$dir/uac.out" >&2
    fi
    local lost=$(( CALLS - ok ))                  # failed, or never completed

    # CPU per completed call.
    local ticks=$(( cpu1 - cpu0 )) cpu_ms us="-"
    cpu_ms=$(awk -v t="$ticks" -v h="$TCK" 'BEGIN { printf "%.0f", t * 1000 / h }')
    [ "$ok" -gt 0 ] && us=$(awk -v t="$ticks" -v h="$TCK" -v n="$ok" 'BEGIN { printf "%.1f", t * 1e6 / h / n }')
    [ "$name" = kamailio ] && KAM_US=$us

    # ser prints its I/O counters at exit: "ser: total: ... handed off N, ...".
    local hand="-"
    if [[ "$name" == ser* ]]; then
        local total; total=$(grep -m1 '^ser: total:' "$dir/server.log" || true)
        if [ -n "$total" ]; then
            local h; h=$(sed -n 's/.*handed off \([0-9]*\).*/\1/p' <<<"$total")
            hand="$h ($(awk -v h="$h" -v n="$ok" 'BEGIN { if (n) printf "%.3f", h / n; else print "-" }')/$UNIT)"
            NOTES+=("$name: $total")
            # register: ser prints its location table's size at exit.
            if [ "$SCENARIO" = register ]; then
                local nb; nb=$(sed -n 's/^ser: location: \([0-9]*\) bindings.*/\1/p' "$dir/server.log" | head -n1)
                CHECK=${nb:-0}
            fi
        else
            hand="no total line"
        fi
    fi

    # ok: nothing lost, and the check (UAS complete, bindings) equals CALLS.
    local status="ok"
    if [ "$lost" -ne 0 ] || { [ "$CHECK" != "-" ] && [ "$CHECK" != "$CALLS" ]; }; then
        status="LOST ${UNIT^^}S ($LOAD_RC)"; STATUS=1
    fi
    [ "$src" = 0 ] || status="$status; server exit $src"
    ROWS+=("$name|$label|$ok|$lost|$CHECK|$retrans|$rate|$cpu_ms|$us|$hand|$status")
    NOTES+=("$name: $nproc process(es) measured; startup CPU (not counted) $(( cpu0 * 1000 / TCK )) ms; UAC failed ${UNIT}s $failed; server exit status $src")
    log "$name: $ok/$CALLS ${UNIT}s ok, $CHECK_NAME $CHECK, $retrans retransmissions, CPU ${cpu_ms} ms"
    [ "$MEMORY" = 1 ] && mem_row "$name" "$label" "$ok" "$mem0" "$mem1"
    return 0
}

# --memory: the memory table's row for one server. Bindings: Kamailio's
# location_contacts counter; ser's location size printed at exit.
# Bytes per binding = (after - before) / bindings.
mem_row() {
    local name=$1 label=$2 ok=$3 mem0=$4 mem1=$5 what n bindings
    if [ "$name" = kamailio ]; then
        what="shm real_used"; n=$CHECK; bindings="$CHECK (location_contacts)"
    else
        what="VmRSS"; n=$CHECK; bindings="$CHECK (location table)"
    fi
    if [ -z "$mem0" ] || [ -z "$mem1" ] || ! [[ "$n" =~ ^[1-9][0-9]*$ ]]; then
        local m0=${mem0%% *} m1=${mem1%% *}
        MEM_ROWS+=("| $label | $bindings | $what | ${m0:--} | ${m1:--} | - | - |"); STATUS=1; return
    fi
    local b0=${mem0%% *} b1=${mem1%% *} bpb
    bpb=$(awk -v a="$b0" -v b="$b1" -v n="$n" 'BEGIN { printf "%.1f", (b - a) / n }')
    [ "$name" = kamailio ] && KAM_BPB=$bpb
    MEM_ROWS+=("$label|$bindings|$what|$b0|$b1|$bpb")
    NOTES+=("$name memory before: $what $b0, ${mem0#* }")
    NOTES+=("$name memory after:  $what $b1, ${mem1#* }")
}

# --- run ---------------------------------------------------------------------
# The table's words for one unit of load and for the check column.
if [ "$SCENARIO" = calls ]; then
    UNIT=call CHECK_NAME="UAS complete"
    TITLE="Stateless forwarding, $CALLS calls at $RATE calls/s asked, hold ${HOLD_MS} ms"
    HEAD="| server | workers | calls | failed | rate achieved (calls/s) | CPU ms total | CPU µs per call | ratio vs Kamailio | handoffs (ser) | UAS complete | retrans | status |"
else
    UNIT=registration CHECK_NAME="bindings"
    TITLE="Registrar, $CALLS REGISTERs (one new user each) at $RATE/s asked"
    HEAD="| server | workers | registrations | failed | rate achieved (REGISTER/s) | CPU ms total | CPU µs per registration | ratio vs Kamailio | handoffs (ser) | bindings at end | retrans | status |"
fi

[ "$ONLY" != ser ] && run_one kamailio
[ "$ONLY" != kamailio ] && run_one ser
[ "$ONLY" != kamailio ] && [ "$SER_EPOLL" = 1 ] && run_one ser-epoll

echo
echo "$TITLE, $WORKERS workers, $(nproc) CPUs"
echo
echo "$HEAD"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for r in "${ROWS[@]}"; do
    if [[ "$r" == \|* ]]; then echo "$r"; continue; fi   # a "not run" row
    IFS='|' read -r name label ok lost check retrans rate cpu_ms us hand status <<<"$r"
    ratio="-"
    if [ -n "$KAM_US" ] && [ "$KAM_US" != "-" ] && [ "$us" != "-" ]; then
        ratio=$(awk -v a="$us" -v b="$KAM_US" 'BEGIN { printf "%.2f", a / b }')
    fi
    echo "| $label | $WORKERS | $ok | $lost | $rate | $cpu_ms | $us | $ratio | $hand | $check | $retrans | $status |"
done
if [ "$MEMORY" = 1 ]; then
    echo
    echo "Memory per registered contact, $CALLS REGISTERs at $RATE/s (Kamailio -m $KAM_SHM_MB)"
    echo
    echo "| server | bindings | memory measured | before (bytes) | after (bytes) | bytes per binding | ratio vs Kamailio |"
    echo "|---|---|---|---|---|---|---|"
    for r in "${MEM_ROWS[@]}"; do
        if [[ "$r" == \|* ]]; then echo "$r"; continue; fi
        IFS='|' read -r label bindings what b0 b1 bpb <<<"$r"
        ratio="-"
        [ -n "$KAM_BPB" ] && ratio=$(awk -v a="$bpb" -v b="$KAM_BPB" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
        echo "| $label | $bindings | $what | $b0 | $b1 | $bpb | $ratio |"
    done
fi
echo
for n in "${NOTES[@]}"; do echo "- $n"; done
exit "$STATUS"
