# The Python side of mlox's worker pool (crates/mlox-serving/src/pyworker/), run as
# `python -c <this file> MODEL_DIR`. It loads the model once with mlflow.pyfunc and then
# answers requests from stdin until stdin closes. Each frame is a 4-byte little-endian
# length and a JSON object: requests {"content_type": str, "body": str, "b64": bool},
# answers {"status": int, "mimetype": str, "body": str}. Scoring goes through MLflow's own
# scoring-server function, so parsing, schema enforcement, predictions and error bodies
# are exactly those of `mlflow models serve`. After the hello frame, a request is two
# frames (a JSON header {"content_type": str}, then the raw body bytes) and so is an
# answer (a JSON header {"status": int, "mimetype": str}, then the raw response body).
import json
import os
import struct
import sys


def main():
    # Model code may print: keep stdout for frames only and send prints to stderr.
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    inp = sys.stdin.buffer

    def send(obj):
        data = json.dumps(obj).encode("utf-8")
        out.write(struct.pack("<I", len(data)) + data)

    def answer(status, mimetype, body):
        head = json.dumps({"status": status, "mimetype": mimetype}).encode("utf-8")
        if isinstance(body, str):
            body = body.encode("utf-8")
        out.write(struct.pack("<I", len(head)) + head + struct.pack("<I", len(body)) + body)

    def read_exact(n):
        buf = b""
        while len(buf) < n:
            chunk = inp.read(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    os.environ.setdefault("_MLFLOW_IS_IN_SERVING_ENVIRONMENT", "true")
    try:
        import mlflow
        from mlflow.exceptions import MlflowException
        from mlflow.pyfunc import scoring_server

        model = scoring_server.load_model_with_mlflow_config(sys.argv[1])
        schema = model.metadata.get_input_schema()
    except BaseException as e:  # noqa: BLE001 - report any load failure to the front
        import traceback

        traceback.print_exc()
        send({"ready": False, "message": f"{type(e).__name__}: {e}"})
        return 1
    send({"ready": True, "pid": os.getpid(), "mlflow_version": mlflow.__version__})

    def read_frame():
        head = read_exact(4)
        if head is None:
            return None
        (n,) = struct.unpack("<I", head)
        return read_exact(n)

    while True:
        header = read_frame()
        body = read_frame() if header is not None else None
        if body is None:
            return 0
        content_type = json.loads(header)["content_type"]
        try:
            res = scoring_server.invocations(body, content_type, model, schema)
            answer(res.status, res.mimetype, res.response)
        except MlflowException as e:
            answer(e.get_http_status_code(), "application/json", e.serialize_as_json())
        except Exception as e:  # noqa: BLE001 - never let one request end the worker
            answer(
                500,
                "application/json",
                json.dumps({"error_code": "INTERNAL_ERROR", "message": f"{type(e).__name__}: {e}"}),
            )


sys.exit(main())
