# Server start and stop shared by the benchmark scripts (sourced, not run).
#
#   start_server DIR CMD...   starts CMD in DIR in a session of its own, so that its whole
#                             process tree can be signalled; sets SPID. Redirect the call
#                             to choose where its output goes.
#   wait_healthy URL [ARGS]   waits (up to 300 s) for a 200 on URL/health, giving up if
#                             the server exits; prints the load generator's JSON. Needs LG.
#   stop_server               TERM to the server's process group, KILL after 15 s.

SPID=""

start_server() {
    local dir=$1
    shift
    # The subshell execs setsid, which execs the server: $! is the server's pid and the
    # leader of a new process group. Its cwd is DIR so that nothing lands in the repo.
    (cd "$dir" && exec setsid "$@") </dev/null &
    SPID=$!
}

wait_healthy() {
    local url=$1
    shift
    "$LG" --url "$url" wait-healthy --pid "$SPID" --timeout-s 300 "$@"
}

stop_server() {
    local pid=$SPID
    SPID=""
    [[ -n $pid ]] || return 0
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do
        kill -0 -- "-$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 -- "-$pid" 2>/dev/null; then
        kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}
