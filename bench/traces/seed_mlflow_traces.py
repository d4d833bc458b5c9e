"""Bulk-seed trace infos into a *running* MLflow server's SQLite database.

Used by bench/traces/run.sh for the MLflow server only: seeding 100,000 traces through
MLflow's REST API takes far too long on a 2-core machine. The first traces of the
experiment go through the REST API (`mlox-loadgen seed-traces`, which also measures
MLflow's rate); this script adds the rest in one transaction by cloning the rows MLflow
wrote for one of those REST-created traces: its `trace_info` row (every column MLflow
fills on its own), its `trace_request_metadata` rows and its system tags
(`mlflow.artifactLocation`, with the trace id replaced). Only the trace id, request
time, name, previews and the benchmark's own tags differ, as they do over REST.

    mlox-loadgen trace-seed-data --from 2000 --to 100000 | python seed_mlflow_traces.py DB EXPERIMENT_ID

Reads JSON lines {"i", "trace_id", "timestamp_ms", "tags": {k: v}} on stdin.
Prints one JSON object with the number of traces inserted and the seconds it took.
"""

import json
import sqlite3
import sys
import time


def main() -> None:
    db, experiment_id = sys.argv[1], int(sys.argv[2])
    t0 = time.time()
    con = sqlite3.connect(db, timeout=60)
    con.row_factory = sqlite3.Row
    cur = con.cursor()
    cur.execute(
        "SELECT * FROM trace_info WHERE experiment_id = ? ORDER BY timestamp_ms LIMIT 1",
        (experiment_id,),
    )
    tmpl = cur.fetchone()
    if tmpl is None:
        sys.exit(f"no template trace in experiment {experiment_id}: seed a few over REST first")
    cols = list(tmpl.keys())
    tmpl_id = tmpl["request_id"]
    cur.execute("SELECT key, value FROM trace_request_metadata WHERE request_id = ?", (tmpl_id,))
    meta = [(r["key"], r["value"]) for r in cur.fetchall()]
    cur.execute("SELECT key, value FROM trace_tags WHERE request_id = ?", (tmpl_id,))
    sys_tags = [(r["key"], r["value"]) for r in cur.fetchall() if r["key"].startswith("mlflow.")]

    infos, tags, metas = [], [], []
    for line in sys.stdin:
        d = json.loads(line)
        i, tid = d["i"], d["trace_id"]
        row = dict(zip(cols, tuple(tmpl)))
        row["request_id"] = tid
        row["timestamp_ms"] = d["timestamp_ms"]
        row["execution_time_ms"] = 40 + i % 200
        row["request_preview"] = json.dumps({"question": f"question {i}"})
        row["response_preview"] = json.dumps(f"answer {i}")
        infos.append(tuple(row[c] for c in cols))
        for k, v in sys_tags:
            tags.append((k, v.replace(tmpl_id, tid), tid))
        for k, v in d["tags"].items():
            tags.append((k, v, tid))
        for k, v in meta:
            if k == "mlflow.traceInputs":
                v = row["request_preview"]
            elif k == "mlflow.traceOutputs":
                v = row["response_preview"]
            metas.append((k, v, tid))

    names = ", ".join(f'"{c}"' for c in cols)
    marks = ", ".join("?" for _ in cols)
    cur.executemany(f"INSERT INTO trace_info ({names}) VALUES ({marks})", infos)
    cur.executemany('INSERT INTO trace_tags ("key", value, request_id) VALUES (?, ?, ?)', tags)
    cur.executemany(
        'INSERT INTO trace_request_metadata ("key", value, request_id) VALUES (?, ?, ?)', metas
    )
    con.commit()
    con.close()
    print(json.dumps({"scenario": "seed-sql-traces", "traces": len(infos), "seconds": round(time.time() - t0, 3)}))


if __name__ == "__main__":
    main()
