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
    port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    nohup "$PWD/.venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$dir/moto.log" 2>&1 &
    echo $! >"$dir/moto.pid"
    url=http://127.0.0.1:$port
    $PY - "$url" <<'PYEOF'
import sys, time, urllib.request
for _ in range(300):
    try:
        urllib.request.urlopen(sys.argv[1] + "/", timeout=1)
        break
    except Exception as e:
        if getattr(e, "code", None):
            break
        time.sleep(0.1)
PYEOF
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
