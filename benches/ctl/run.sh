#!/usr/bin/env bash
# SIP latency while the control socket is attacked (issue 7's hostile-client
# measurement, as a benchmark): ser with its control socket on unix stream,
# unix datagram, TCP and UDP answers OPTIONS (sl) to a UAC; the same
# load runs twice, once quiet and once while benches/ctl/hostile.py throws
# junk, truncated packets, idle connections and bursts of 300 simultaneous
# clients at the control socket. Prints the sipp response times (ms) and
# the ser CPU time of both runs.
#
#   benches/ctl/run.sh [--calls N] [--rate R]
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CALLS=6000 RATE=500
while [ $# -gt 0 ]; do
    case "$1" in
        --calls) CALLS=${2:?}; shift 2 ;;
        --rate) RATE=${2:?}; shift 2 ;;
        *) echo "usage: $0 [--calls N] [--rate R]" >&2; exit 2 ;;
    esac
done
SER_BIN=${SER_BIN:-$ROOT/target/release/ser}
DIR=$(mktemp -d /tmp/ser-ctl-bench.XXXXXX)
PORT=5096 TCP=2096 UDP=2097
cat > "$DIR/ser.cfg" <<CFG
listen=udp:127.0.0.1:$PORT
children=2
loadmodule "sl"
loadmodule "ctl"
modparam("ctl", "binrpc", "unix:$DIR/ctl")
modparam("ctl", "binrpc", "unixd:$DIR/ctld")
modparam("ctl", "binrpc", "tcp:127.0.0.1:$TCP")
modparam("ctl", "binrpc", "udp:127.0.0.1:$UDP")
route { sl_send_reply("200", "OK"); }
CFG
"$SER_BIN" -f "$DIR/ser.cfg" -E 2> "$DIR/ser.log" &
SER=$!
trap 'kill $SER 2>/dev/null || true; rm -rf "$DIR"' EXIT
for _ in $(seq 50); do [ -S "$DIR/ctl" ] && break; sleep 0.1; done
hz=$(getconf CLK_TCK)
# CPU ticks of the shard threads and of the control thread.
ticks() {   # $1: ser-shard or ser-ctl
    local t=0 task
    for task in /proc/$SER/task/*; do
        if grep -q "^$1" "$task/comm" 2>/dev/null; then
            t=$(( t + $(awk '{print $14 + $15}' "$task/stat") ))
        fi
    done
    echo $t
}
run() {   # $1: label, $2: 1 to attack
    local s0 c0 s1 c1 out
    s0=$(ticks ser-shard) c0=$(ticks ser-ctl)
    python3 "$HERE/uac.py" $PORT "$CALLS" "$RATE" > "$DIR/uac-$1.out" &
    local uac=$!
    if [ "$2" = 1 ]; then
        python3 "$HERE/hostile.py" "$DIR/ctl" "$DIR/ctld" $TCP $UDP \
            $(( CALLS / RATE - 1 )) > "$DIR/hostile.out"
    fi
    wait $uac
    s1=$(ticks ser-shard) c1=$(ticks ser-ctl)
    read -r n p50 p99 max < "$DIR/uac-$1.out"
    echo "| $1 | $n of $CALLS | $p50 | $p99 | $max | $(( (s1 - s0) * 1000000 / hz / CALLS )) | $(( (c1 - c0) * 1000 / hz )) |"
}
echo "| run | answered | p50 ms | p99 ms | max ms | shards' CPU µs per OPTIONS | control thread CPU ms |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
run quiet 0
run attacked 1
echo
cat "$DIR/hostile.out"
