#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run execs this script).
#
# 1. Installs what the tests need when it is missing (fresh Debian machine).
# 2. Format check, clippy, release build, then the tests on that same build.
#
# CI has 90 minutes on 2 cores: keep every step on the release profile so
# that build and tests share one set of artefacts.
set -euo pipefail
cd "$(dirname "$0")/.."

# ---------------------------------------------------------------------------
# System packages the tests need, one "command package" pair per line. A
# package is installed only when its command is missing; apt-get update runs
# once, before the first install. Later issues add their tools here.
# Kamailio (kamailio and kamcmd, one package): kamcmd talks to our control
# socket in tests/tests/control.rs, and tests/tests/sercmd.rs compares
# sercmd with kamcmd against ser and against a real Kamailio; the
# benchmark uses it too.
# tests/tests/store.rs starts throw-away PostgreSQL and MariaDB servers:
# PostgreSQL's binaries are not on PATH, so its "command" is a glob.
NEEDED=(
    "sipp sip-tester"
    "kamailio kamailio"
    "kamcmd kamailio"
    "/usr/lib/postgresql/*/bin/initdb postgresql"
    "mariadbd mariadb-server"
)

missing=()
for pair in ${NEEDED[@]+"${NEEDED[@]}"}; do
    cmd=${pair%% *}
    pkg=${pair#* }
    command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || compgen -G "$cmd" >/dev/null || missing+=("$pkg")
done
if ((${#missing[@]} > 0)); then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    echo "==> installing: ${missing[*]}"
    $sudo apt-get update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi

# The Rust toolchain (cargo, rustfmt, clippy) cannot be installed from here.
for tool in "cargo" "cargo fmt" "cargo clippy"; do
    if ! $tool --version >/dev/null 2>&1; then
        echo "tests/run.sh: '$tool' is missing; install the stable Rust toolchain with rustfmt and clippy" >&2
        exit 1
    fi
done

# ---------------------------------------------------------------------------
step() {
    echo "==> $*"
    "$@"
}

step cargo fmt --all -- --check
step cargo clippy --workspace --all-targets --release -- -D warnings
# The end-to-end tests run target/release/ser: build it before testing.
step cargo build --release --workspace
step cargo test --release --workspace --no-fail-fast
