#!/usr/bin/env bash
# Throwaway S3-compatible server for tests: moto's server mode (from PyPI, installed in
# .venv by scripts/install-test-deps.sh) on a free loopback port, with a bucket created.
#
#   scripts/s3-test-server.sh start DIR BUCKET   # last stdout line: http://127.0.0.1:PORT
#   scripts/s3-test-server.sh stop DIR
set -euo pipefail
cd "$(dirname "$0")/.."
cmd=${1:-}
dir=${2:-}
[[ -n $cmd && -n $dir ]] || { echo "usage: $0 start DIR BUCKET | stop DIR" >&2; exit 2; }
PY=$PWD/.venv/bin/python
case $cmd in
start)
    bucket=${3:?bucket name}
    mkdir -p "$dir"
    # A port picked free can be taken before moto binds it: try a few ports, and call the
    # server up only when it answers HTTP (any status) while its process is alive.
    url=""
    for attempt in 1 2 3 4 5; do
        port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        nohup "$PWD/.venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$dir/moto.log" 2>&1 &
        pid=$!
        echo "$pid" >"$dir/moto.pid"
        if $PY - "http://127.0.0.1:$port" "$pid" <<'PYEOF'
import os, sys, time, urllib.request
url, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(1)  # the server exited (e.g. the port was taken)
    try:
        urllib.request.urlopen(url + "/", timeout=1)
        sys.exit(0)
    except Exception as e:
        if getattr(e, "code", None):
            sys.exit(0)  # an HTTP error status is still an answer
        time.sleep(0.1)
sys.exit(1)
PYEOF
        then
            url=http://127.0.0.1:$port
            break
        fi
        kill "$pid" 2>/dev/null || true
        echo "s3-test-server: moto did not come up on port $port (attempt $attempt):" >&2
        tail -n 5 "$dir/moto.log" >&2 || true
    done
    if [[ -z $url ]]; then
        echo "s3-test-server: could not start moto; see $dir/moto.log" >&2
        exit 1
    fi
    AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing $PY - "$url" "$bucket" <<'PYEOF'
import sys, boto3
url, bucket = sys.argv[1], sys.argv[2]
boto3.client("s3", endpoint_url=url, region_name="us-east-1").create_bucket(Bucket=bucket)
PYEOF
    echo "$url"
    ;;
stop)
    if [[ -f $dir/moto.pid ]]; then
        kill "$(cat "$dir/moto.pid")" 2>/dev/null || true
        rm -f "$dir/moto.pid"
    fi
    ;;
*)
    echo "usage: $0 start DIR BUCKET | stop DIR" >&2
    exit 2
    ;;
esac
