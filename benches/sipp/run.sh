#!/usr/bin/env bash
# ser vs Kamailio under sipp, same load, same run.
#
#   benches/sipp/run.sh [--scenario calls|register|stateful] [--calls N]
#                       [--rate R] [--only ser|kamailio] [--ser-epoll]
#                       [--hold MS] [--workers N] [--keep] [--memory] [--tx-memory]
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
# --scenario stateful: both servers run SER's Hello World (tm, rr,
# registrar); the sipp UAS registers first, then calls go UAC -> proxy
# (lookup("location"), t_relay) -> UAS, ACK and BYE by the Route set. Adds
# the p50/p99 of INVITE -> 180 (and INVITE -> 100) seen by the UAC.
# --tx-memory (its own mode; 100000 INVITEs at 2000/s unless --calls/--rate
# say otherwise): the stateful configs, a UAS that answers 180 and never a
# final reply, and the memory before the load and with every INVITE
# transaction alive: bytes per live transaction (Kamailio: shm real_used,
# -m 4096, live count from tm.stats; ser: VmRSS, live count from SIGUSR1).
# KAM_ARGS: more Kamailio options, e.g. KAM_ARGS="-x tlsf" (its TLSF
# allocator instead of the default qm; see docs/benchmarks.md).
# See README.md next to this file.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

# --- settings ---------------------------------------------------------------
SCENARIO=calls       # calls (stateless forwarding), register (registrar),
                     # stateful (Hello World), txmem (--tx-memory)
CALLS=""             # calls (or REGISTERs, INVITEs) per server; default below
CALLS_DEFAULT=20000
CALLS_MEMORY=200000  # --memory: bindings per server
CALLS_TXMEM=100000   # --tx-memory: live INVITE transactions per server
RATE=""              # per second asked of the UAC; default per scenario below
RATE_CALLS=1500      # calls: 2000 lost calls now and then
RATE_REGISTER=2000   # register
RATE_MEMORY=3000     # register --memory
RATE_STATEFUL=1500   # stateful
RATE_TXMEM=2000      # --tx-memory: 100000 in 50 s, well within fr_inv_timer
MEMORY=0             # 1: --memory or --tx-memory (read the memory)
TXMEM=0              # 1: --tx-memory (bytes per live INVITE transaction)
KAM_SHM_MB=""        # Kamailio -m (MB of shared memory), set per scenario below:
KAM_SHM_MB_MEMORY=${KAM_SHM_MB_MEMORY:-1024}   # --memory: its default 64 MB cannot hold 200000 bindings (2048 for 1000000)
KAM_SHM_MB_STATEFUL=1024 # stateful: 64 MB ran out at 1000 calls/s (each call
                         # leaves 2 transactions for wt_timer, 5 s)
KAM_SHM_MB_TXMEM=4096    # --tx-memory: 100000 live INVITE transactions
FR_INV_S=120         # fr_inv_timer of both servers (defaults): --tx-memory
                     # must have all its transactions in well before that
CALLEE=callee        # stateful, --tx-memory: the user the UAS registers
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
        --tx-memory) TXMEM=1; shift ;;
        -h|--help) usage ;;
        *) echo "run.sh: unknown argument '$1'" >&2; usage ;;
    esac
done
case "$ONLY" in ""|ser|kamailio) ;; *) echo "run.sh: --only takes ser or kamailio" >&2; exit 2 ;; esac
if [ "$TXMEM" = 1 ]; then
    [ "$MEMORY" = 1 ] || [ "$SCENARIO_SET" = 1 ] \
        && { echo "run.sh: --tx-memory is a mode of its own (no --scenario, no --memory)" >&2; exit 2; }
    SCENARIO=txmem MEMORY=1 KAM_SHM_MB=$KAM_SHM_MB_TXMEM
    CALLS=${CALLS:-$CALLS_TXMEM} RATE=${RATE:-$RATE_TXMEM}
elif [ "$MEMORY" = 1 ]; then
    [ "$SCENARIO" != register ] && [ "$SCENARIO_SET" = 1 ] \
        && { echo "run.sh: --memory needs --scenario register" >&2; exit 2; }
    SCENARIO=register KAM_SHM_MB=$KAM_SHM_MB_MEMORY
    CALLS=${CALLS:-$CALLS_MEMORY} RATE=${RATE:-$RATE_MEMORY}
fi
CALLS=${CALLS:-$CALLS_DEFAULT}
case "$SCENARIO" in
    calls) CFG_NAME=stateless; RATE=${RATE:-$RATE_CALLS} ;;
    register) CFG_NAME=register; RATE=${RATE:-$RATE_REGISTER} ;;
    stateful) CFG_NAME=stateful; RATE=${RATE:-$RATE_STATEFUL} KAM_SHM_MB=$KAM_SHM_MB_STATEFUL ;;
    txmem) [ "$TXMEM" = 1 ] || { echo "run.sh: use --tx-memory" >&2; exit 2; }
           CFG_NAME=stateful ;;
    *) echo "run.sh: --scenario takes calls, register or stateful" >&2; exit 2 ;;
esac
for n in "$CALLS" "$RATE" "$HOLD_MS" "$WORKERS"; do
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: '$n' is not a positive number" >&2; exit 2; }
done
command -v "$SIPP" >/dev/null || { echo "run.sh: sipp not found (Debian: sip-tester)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "run.sh: python3 not found (used for the probe)" >&2; exit 2; }

# A REGISTER has no hold, nor has an INVITE that only gets a 180.
case "$SCENARIO" in register|txmem) HOLD_MS=0 ;; esac
# --tx-memory: the first transactions must still be alive when the last
# INVITE is in (fr_inv_timer runs from each 180). And Kamailio is slow to
# stop with all of them alive (29 s after SIGTERM with 100000 here).
if [ "$SCENARIO" = txmem ]; then
    if [ $(( CALLS / RATE + 20 )) -ge "$FR_INV_S" ]; then
        echo "run.sh: $CALLS INVITEs at $RATE/s take too long: the first transactions would end (fr_inv_timer ${FR_INV_S} s) before the last is in; raise --rate" >&2
        exit 2
    fi
    STOP_TIMEOUT=$(( STOP_TIMEOUT + CALLS / 1000 ))
fi
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
[ "$MEMORY" = 1 ] && KAM_KEX='/^loadmodule "ctl.so"/a loadmodule "kex.so"'
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

# --- the loads -----------------------------------------------------------------
# Each runs its sipp(s) against the server in $PROXY_PORT and sets:
#   CHECK    the scenario's own check (calls, stateful: calls the UAS
#            completed; register: bindings, txmem: live transactions, both
#            set later by count_check)
#   LOAD_RC  how the sipps exited, for the status column
#   EXTRA    stateful: the latency columns (see latency)

# Calls: UAS first (it exits by itself after CALLS calls), then the UAC.
# Both sipps are our direct children (no wrapper: a signal must reach sipp
# itself); sipp's -timeout and wait_exit bound them.
load_calls() {
    local name=$1 dir=$2
    start_uas "$name" "$dir" "$HERE/uas.xml"
    log "$name: $CALLS calls at $RATE/s (hold ${HOLD_MS} ms)"
    run_uac "$name" "$dir" "$HERE/uac.xml" -s service -key uas "$IP:$UAS_PORT" -d "$HOLD_MS"
    local uac_rc=$RC
    end_uas "$name" "$dir"
    LOAD_RC="UAC exit $uac_rc, UAS exit $RC"
}

# start_uas NAME DIR SCENARIO [sipp options...]: the sipp UAS on
# $UAS_PORT, -m CALLS (it exits by itself after CALLS calls), our direct
# child (no wrapper: a signal must reach sipp itself); sets UAS_PID.
UAS_PID=""
start_uas() {
    local name=$1 dir=$2 sf=$3; shift 3
    "$SIPP" -sf "$sf" "$@" -i "$IP" -p "$UAS_PORT" \
        -m "$CALLS" -recv_timeout "$RECV_TIMEOUT" -timeout "$(( LOAD_TIMEOUT + 15 ))s" -nostdin -trace_stat -stf "$dir/uas.csv" \
        -trace_screen -screen_file "$dir/uas.screen" -trace_err -error_file "$dir/uas.err" \
        >"$dir/uas.out" 2>&1 &
    UAS_PID=$!
    own "$UAS_PID"
    local t=0
    while port_free "$UAS_PORT"; do               # until the UAS has bound its port
        sleep 0.1; t=$(( t + 1 ))
        [ "$t" -lt 50 ] && alive "$UAS_PID" || { log "$name: sipp UAS did not start"; cat "$dir/uas.out" >&2; exit 1; }
    done
}

# end_uas NAME DIR: waits for the UAS, which ends its CALLS calls after its
# timewait; a lost call keeps it waiting, so bound it and stop it softly
# (SIGUSR1 = sipp's "quit"). Sets RC like wait_exit and CHECK to the calls
# the UAS completed.
end_uas() {
    local name=$1 dir=$2 rc
    wait_exit "$UAS_PID" 15; rc=$RC
    if [ "$rc" = timeout ]; then
        log "$name: sipp UAS still waiting for calls; stopping it"
        stop_sipp "$UAS_PID"; rc=$RC
    fi
    CHECK=0
    [ -s "$dir/uas.csv" ] && CHECK=$(stat_last "$dir/uas.csv" 'SuccessfulCall(C)')
    RC=$rc
}

# Stateful and --tx-memory, before the CPU and memory readings: the UAS's
# user registers, from the UAS's own address (before the UAS binds it),
# with Contact <sip:callee@127.0.0.1:5080>: one REGISTER, which must get a
# 200 (sipp exits 0 only then).
prepare_stateful() {
    local name=$1 dir=$2
    "$SIPP" "$IP:$PROXY_PORT" -sf "$HERE/uas-register.xml" -s "$CALLEE" -i "$IP" -p "$UAS_PORT" \
        -m 1 -recv_timeout 5000 -timeout 10s -nostdin \
        -trace_err -error_file "$dir/uas-register.err" >"$dir/uas-register.out" 2>&1 &
    local reg=$!
    own "$reg"
    wait_exit "$reg" 15
    [ "$RC" = timeout ] && stop_sipp "$reg"
    if [ "$RC" != 0 ]; then
        log "$name: the UAS's REGISTER failed (sipp exit $RC):"; tail -n 5 "$dir/uas-register.out" >&2
        return 1
    fi
    log "$name: sip:$CALLEE@$IP registered with Contact <sip:$CALLEE@$IP:$UAS_PORT>"
}
prepare_txmem() { prepare_stateful "$@"; }

# Stateful calls through the Hello World proxy: as load_calls, with the
# scenarios that follow the Record-Route, the R-URI the registered user, and
# the UAC's message times logged (-trace_shortmsg, microseconds) for the
# latency columns.
load_stateful() {
    local name=$1 dir=$2
    start_uas "$name" "$dir" "$HERE/uas-stateful.xml" -s "$CALLEE"
    log "$name: $CALLS calls at $RATE/s (hold ${HOLD_MS} ms) to sip:$CALLEE@$IP:$PROXY_PORT"
    run_uac "$name" "$dir" "$HERE/uac-stateful.xml" -s "$CALLEE" -d "$HOLD_MS" \
        -trace_shortmsg -shortmessage_file "$dir/uac.short" -trace_rtt
    local uac_rc=$RC
    end_uas "$name" "$dir"
    LOAD_RC="UAC exit $uac_rc, UAS exit $RC"
    latency "$name" "$dir"
}

# latency NAME DIR: from the UAC's message log (uac.short: one line per
# message, "date, time, epoch.usec, S|R, Call-ID, CSeq, first line"), per
# call the time from the first INVITE sent to the first 180 (and to the
# first 100) received; percentiles by nearest rank. Sets EXTRA to
# "180 p50|180 p99|100 p50 / p99" in ms and adds a note with the counts,
# the maximum and the same percentiles from sipp's own rtd 1 (-trace_rtt,
# whole milliseconds).
latency() {
    local name=$1 dir=$2 out rtt
    rtt=$(ls "$dir"/uac-stateful_*_rtt.csv 2>/dev/null | head -n1 || true)
    if ! out=$(python3 - "$dir/uac.short" "${rtt:-/dev/null}" <<'EOF'
import math, sys

def us(epoch):                      # "1796571169.408737" -> microseconds, exactly
    sec, _, frac = epoch.partition(".")
    return int(sec) * 1000000 + int((frac + "000000")[:6])

def pct(v, p):                      # nearest rank
    return v[max(0, math.ceil(p / 100 * len(v)) - 1)]

invite, got, d = {}, {"100": set(), "180": set()}, {"100": [], "180": []}
with open(sys.argv[1], errors="replace") as f:
    for line in f:
        x = line.rstrip("\n").split("\t")
        if len(x) < 7 or not x[5].endswith(" INVITE"):
            continue
        cid, t = x[4], us(x[2])
        if x[3] == "S" and x[6].startswith("INVITE "):
            invite.setdefault(cid, t)
        elif x[3] == "R" and x[6].startswith("SIP/2.0 "):
            code = x[6].split(" ")[1]
            if code in d and cid in invite and cid not in got[code]:
                got[code].add(cid)
                d[code].append((t - invite[cid]) / 1000)
rtt = []
with open(sys.argv[2]) as f:
    for line in f:
        x = line.strip().split(";")
        if len(x) == 3 and x[2] == "1":
            rtt.append(float(x[1]))
for v in (d["100"], d["180"], rtt):
    v.sort()
if not d["180"]:
    sys.exit(1)
f = lambda v, p: "%.3f" % pct(v, p) if v else "-"
print("%s|%s|%s / %s" % (f(d["180"], 50), f(d["180"], 99), f(d["100"], 50), f(d["100"], 99)))
print("INVITE -> 180: %d calls, p50 %s, p90 %s, p99 %s, p99.9 %s, max %s ms; INVITE -> 100: %d calls, p50 %s, p99 %s, max %s ms; sipp rtd 1 (-trace_rtt, whole ms): %d calls, p50 %s, p99 %s ms"
      % (len(d["180"]), f(d["180"], 50), f(d["180"], 90), f(d["180"], 99), f(d["180"], 99.9), f(d["180"], 100),
         len(d["100"]), f(d["100"], 50), f(d["100"], 99), f(d["100"], 100),
         len(rtt), f(rtt, 50), f(rtt, 99)))
EOF
    ); then
        log "$name: no INVITE -> 180 times in $dir/uac.short"; EXTRA="-|-|-"; return 0
    fi
    EXTRA=$(head -n1 <<<"$out")
    NOTES+=("$name latency: $(tail -n1 <<<"$out")")
}

# --tx-memory: CALLS INVITEs, each answered 180 by the UAS and never with a
# final reply; a call ends at its 180, so when the UAC is done the server
# holds CALLS live INVITE transactions (until fr_inv_timer). The UAS ends
# each call after a 2 s timewait and then exits.
load_txmem() {
    local name=$1 dir=$2
    start_uas "$name" "$dir" "$HERE/uas-txmem.xml" -s "$CALLEE"
    log "$name: $CALLS INVITEs at $RATE/s to sip:$CALLEE@$IP:$PROXY_PORT, answered 180 only"
    run_uac "$name" "$dir" "$HERE/uac-txmem.xml" -s "$CALLEE"
    local uac_rc=$RC
    end_uas "$name" "$dir"
    LOAD_RC="UAC exit $uac_rc, UAS exit $RC"
    CHECK="-"                       # the live transactions: count_check
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
    # In DIR: -trace_rtt writes <scenario>_<pid>_rtt.csv into the current
    # directory. exec: $! is sipp itself.
    (cd "$dir" && exec "$SIPP" "$IP:$PROXY_PORT" -sf "$sf" "$@" -i "$IP" -p "$UAC_PORT" \
        -m "$CALLS" -r "$RATE" -rp 1000 -recv_timeout "$RECV_TIMEOUT" -timeout "${LOAD_TIMEOUT}s" -nostdin \
        -trace_stat -stf "$dir/uac.csv" -trace_screen -screen_file "$dir/uac.screen" \
        -trace_err -error_file "$dir/uac.err" >"$dir/uac.out" 2>&1) &
    local uac=$!
    own "$uac"
    wait_exit "$uac" "$(( LOAD_TIMEOUT + 10 ))"
    if [ "$RC" = timeout ]; then
        log "$name: sipp UAC overran ${LOAD_TIMEOUT}s; stopping it"
        stop_sipp "$uac"
    fi
}

# After the CPU (and memory) reading, before SIGTERM: the scenario's count
# that needs the server. count_check NAME PID DIR.
# - register, Kamailio: its bindings (usrloc's location_contacts counter),
#   through its control socket. (ser prints its count at exit, read with its
#   counters.)
# - txmem: the live transactions. Kamailio: `kamcmd tm.stats`'s current;
#   ser: SIGUSR1 makes it print "ser: statistics: live transactions N,
#   bindings M" on stderr (its log).
count_check() {
    local name=$1 pid=$2 dir=$3 n
    if [ "$SCENARIO" = register ] && [ "$name" = kamailio ]; then
        if n=$(timeout 10 "$KAMCMD" -s "unix:$KAM_CTL" cnt.get usrloc location_contacts 2>>"$dir/kamcmd.err") \
            && [[ "$n" =~ ^[0-9]+$ ]]; then
            CHECK=$n
        else
            log "kamailio: could not read its bindings: $n"; sed 's/^/    /' "$dir/kamcmd.err" >&2
        fi
    elif [ "$SCENARIO" = txmem ] && [ "$name" = kamailio ]; then
        local out
        out=$(timeout 10 "$KAMCMD" -s "unix:$KAM_CTL" tm.stats 2>>"$dir/kamcmd.err" || true)
        n=$(awk '$1 == "current:" { print $2 }' <<<"$out")
        if [[ "$n" =~ ^[0-9]+$ ]]; then
            CHECK=$n
            NOTES+=("kamailio tm.stats at the peak: $(awk -F': ' 'NF == 2 { gsub(/^[ \t]+/, "", $1); printf "%s%s %s", s, $1, $2; s = ", " }' <<<"$out")")
        else
            log "kamailio: could not read tm.stats"; sed 's/^/    /' "$dir/kamcmd.err" >&2
        fi
    elif [ "$SCENARIO" = txmem ]; then
        local before t=0
        before=$(grep -c '^ser: statistics: live transactions' "$dir/server.log" || true)
        signal_own USR1 "$pid"
        while [ "$(grep -c '^ser: statistics: live transactions' "$dir/server.log" || true)" -le "$before" ] \
            && [ "$t" -lt 50 ]; do sleep 0.1; t=$(( t + 1 )); done
        n=$(sed -n 's/^ser: statistics: live transactions \([0-9]*\),.*/\1/p' "$dir/server.log" | tail -n1)
        if [[ "$n" =~ ^[0-9]+$ ]] && [ "$t" -lt 50 ]; then
            CHECK=$n
            NOTES+=("$name at the peak: $(grep '^ser: statistics: live transactions' "$dir/server.log" | tail -n1)")
        else
            log "$name: no statistics line after SIGUSR1"
        fi
    fi
    return 0
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
            [ -n "$KAM_SHM_MB" ] && cmd+=(-m "$KAM_SHM_MB")
            # shellcheck disable=SC2206 # KAM_ARGS: words on purpose
            [ -n "${KAM_ARGS:-}" ] && cmd+=($KAM_ARGS) ;;
        ser|ser-epoll)
            if [ ! -x "$SER_BIN" ]; then
                ROWS+=("$(dash_row "$name" "not run: no $SER_BIN (cargo build --release -p ser-core)")")
                STATUS=1; return
            fi
            # ser -c first: exit 4 names the functions it does not run yet.
            local crc=0
            "$SER_BIN" -c -f "$SER_CFG" >"$dir/check.log" 2>&1 || crc=$?
            if [ "$crc" != 0 ]; then
                log "$name: ser -c exited $crc:"; sed 's/^/    /' "$dir/check.log" >&2
                ROWS+=("$(dash_row "$name" "not run: ser -c exit $crc")")
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
        ROWS+=("$(dash_row "$name" "did not start (exit $rc)")")
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
    # stateful, txmem: the UAS's user registers (not counted).
    if declare -F "prepare_$SCENARIO" >/dev/null && ! "prepare_$SCENARIO" "$name" "$dir"; then
        ROWS+=("$(dash_row "$name" "not run: the UAS's REGISTER failed")")
        STATUS=1; signal_own TERM "$spid"; wait_exit "$spid" "$STOP_TIMEOUT"
        # shellcheck disable=SC2086
        [ "$RC" = timeout ] && { signal_own KILL $pids; wait_exit "$spid" 2; }
        return
    fi
    local mem0="" mem1=""
    if [ "$MEMORY" = 1 ]; then
        mem0=$(mem_read "$name" "$spid" "$dir") || { log "$name: could not read its memory"; mem0=""; }
    fi
    # shellcheck disable=SC2086
    local cpu0; cpu0=$(cpu_ticks $pids)

    CHECK="-" LOAD_RC="" EXTRA=""
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
    count_check "$name" "$spid" "$dir"
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
            local tmline; tmline=$(grep -m1 '^ser: tm:' "$dir/server.log" || true)
            [ -n "$tmline" ] && NOTES+=("$name at exit: $tmline")
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
    ROWS+=("$name|$label|$ok|$lost|$CHECK|$retrans|$rate|$cpu_ms|$us|$hand|$status|$EXTRA")
    NOTES+=("$name: $nproc process(es) measured; startup CPU (not counted) $(( cpu0 * 1000 / TCK )) ms; UAC failed ${UNIT}s $failed; server exit status $src")
    log "$name: $ok/$CALLS ${UNIT}s ok, $CHECK_NAME $CHECK, $retrans retransmissions, CPU ${cpu_ms} ms"
    [ "$MEMORY" = 1 ] && mem_row "$name" "$label" "$ok" "$mem0" "$mem1"
    return 0
}

# --memory: the memory table's row for one server. Bindings: Kamailio's
# location_contacts counter; ser's location size printed at exit.
# Bytes per binding = (after - before) / bindings.
# --tx-memory: the same with the live transactions (count_check) instead of
# the bindings.
mem_row() {
    local name=$1 label=$2 ok=$3 mem0=$4 mem1=$5 what n=$CHECK bindings
    if [ "$name" = kamailio ]; then
        what="shm real_used"; bindings="$CHECK (location_contacts)"
        [ "$SCENARIO" = txmem ] && bindings="$CHECK (tm.stats current)"
    else
        what="VmRSS"; bindings="$CHECK (location table)"
        [ "$SCENARIO" = txmem ] && bindings="$CHECK (SIGUSR1 live transactions)"
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
    local when="after: "; [ "$SCENARIO" = txmem ] && when="at the peak:"
    NOTES+=("$name memory $when $what $b1, ${mem1#* }")
}

# --- run ---------------------------------------------------------------------
# The table's words for one unit of load and for the check column.
# Stateful adds latency columns after the ratio (EXTRA).
LAT_HEAD=""
case "$SCENARIO" in
calls)
    UNIT=call CHECK_NAME="UAS complete"
    TITLE="Stateless forwarding, $CALLS calls at $RATE calls/s asked, hold ${HOLD_MS} ms"
    HEAD="| server | workers | calls | failed | rate achieved (calls/s) | CPU ms total | CPU µs per call | ratio vs Kamailio | handoffs (ser) | UAS complete | retrans | status |" ;;
register)
    UNIT=registration CHECK_NAME="bindings"
    TITLE="Registrar, $CALLS REGISTERs (one new user each) at $RATE/s asked"
    HEAD="| server | workers | registrations | failed | rate achieved (REGISTER/s) | CPU ms total | CPU µs per registration | ratio vs Kamailio | handoffs (ser) | bindings at end | retrans | status |" ;;
stateful)
    UNIT=call CHECK_NAME="UAS complete"
    TITLE="Stateful proxy (Hello World: tm, rr, registrar), $CALLS calls to a registered user at $RATE calls/s asked, hold ${HOLD_MS} ms, Kamailio -m $KAM_SHM_MB"
    LAT_HEAD=" INVITE→180 p50 (ms) | INVITE→180 p99 (ms) | INVITE→100 p50 / p99 (ms) |"
    HEAD="| server | workers | calls | failed | rate achieved (calls/s) | CPU ms total | CPU µs per call | ratio vs Kamailio |$LAT_HEAD handoffs (ser) | UAS complete | retrans | status |" ;;
txmem)
    UNIT=INVITE CHECK_NAME="live transactions"
    TITLE="Stateful proxy (Hello World), $CALLS INVITEs to a registered user answered 180 only, at $RATE/s asked"
    HEAD="| server | workers | INVITEs (180 received) | failed | rate achieved (INVITE/s) | CPU ms total | CPU µs per INVITE | ratio vs Kamailio | handoffs (ser) | live transactions | retrans | status |" ;;
esac

# A row of dashes for a server that did not run: NAME, reason.
dash_row() {
    local n i row="| $1 | $WORKERS |"
    n=$(( $(tr -cd '|' <<<"$HEAD" | wc -c) - 1 ))     # columns
    for (( i = 3; i < n; i++ )); do row="$row - |"; done
    echo "$row $2 |"
}

[ "$ONLY" != ser ] && run_one kamailio
[ "$ONLY" != kamailio ] && run_one ser
[ "$ONLY" != kamailio ] && [ "$SER_EPOLL" = 1 ] && run_one ser-epoll

echo
echo "$TITLE, $WORKERS workers, $(nproc) CPUs"
echo
echo "$HEAD"
sed -e 's/[^|]//g' -e 's/|/---|/g' -e 's/^---//' <<<"$HEAD"
for r in "${ROWS[@]}"; do
    if [[ "$r" == \|* ]]; then echo "$r"; continue; fi   # a "not run" row
    IFS='|' read -r name label ok lost check retrans rate cpu_ms us hand status extra <<<"$r"
    ratio="-"
    if [ -n "$KAM_US" ] && [ "$KAM_US" != "-" ] && [ "$us" != "-" ]; then
        ratio=$(awk -v a="$us" -v b="$KAM_US" 'BEGIN { printf "%.2f", a / b }')
    fi
    lat=""
    if [ -n "$LAT_HEAD" ]; then e=${extra:--|-|-}; lat=" ${e//|/ | } |"; fi
    echo "| $label | $WORKERS | $ok | $lost | $rate | $cpu_ms | $us | $ratio |$lat $hand | $check | $retrans | $status |"
done
if [ "$MEMORY" = 1 ]; then
    echo
    if [ "$SCENARIO" = txmem ]; then
        echo "Memory per live INVITE transaction, $CALLS INVITEs at $RATE/s answered 180 only (Kamailio -m $KAM_SHM_MB)"
        echo
        echo "| server | live transactions | memory measured | before (bytes) | at peak (bytes) | bytes per transaction | ratio vs Kamailio |"
    else
        echo "Memory per registered contact, $CALLS REGISTERs at $RATE/s (Kamailio -m $KAM_SHM_MB)"
        echo
        echo "| server | bindings | memory measured | before (bytes) | after (bytes) | bytes per binding | ratio vs Kamailio |"
    fi
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
