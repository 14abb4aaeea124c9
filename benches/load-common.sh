# Shared by serve-load.sh and intake-load.sh (sourced from the repository
# root): pins the service and wrk to CPUs of their own (PIN=0 shares them;
# SERVER_CPUS, WRK_CPUS choose), checks for wrk and sets $funkd (FUNKD, or
# a release build of this tree).

server_pin=()
wrk_pin=()
if [ "${PIN:-1}" != 0 ]; then
    server_pin=(taskset -c "${SERVER_CPUS:-1}")
    wrk_pin=(taskset -c "${WRK_CPUS:-0}")
fi
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 2; }
if [ -n "${FUNKD:-}" ]; then
    funkd="$FUNKD"
else
    cargo build --release -q -p funkd
    funkd="$PWD/target/release/funkd"
fi
