"""Bulk-seed traces into a *running* MLflow server's SQLite database, for bench/ui.

Seeding 100,000 traces through MLflow's REST API (one StartTraceV3 request each) takes
about an hour on a 2-core machine, so bench/ui/bench.mjs sends the first traces of the
experiment over REST and this script adds the rest in one transaction, cloning the rows
of the oldest REST-created trace (`trace_info`, its tags and request metadata), so that
every column MLflow fills on its own looks exactly as MLflow writes it.

    python seed_mlflow_traces_sqlite.py DB EXPERIMENT_ID FROM TO NOW_MS

Trace i gets request time NOW_MS - i * 100 ms, input {"question": "question i"} and
output "answer i", as bench.mjs sends them over REST. Prints the seconds it took.
"""

import json
import sqlite3
import sys
import time
import uuid


def main() -> None:
    db, experiment_id, start, end, now_ms = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    t0 = time.time()
    con = sqlite3.connect(db, timeout=60)
    con.row_factory = sqlite3.Row
    tmpl = con.execute(
        "SELECT * FROM trace_info WHERE experiment_id = ? ORDER BY timestamp_ms LIMIT 1", (experiment_id,)
    ).fetchone()
    if tmpl is None:
        sys.exit(f"no template trace in experiment {experiment_id}: seed a few traces over REST first")
    cols = list(tmpl.keys())
    tmpl_id = tmpl["request_id"]
    tags = con.execute("SELECT key, value FROM trace_tags WHERE request_id = ?", (tmpl_id,)).fetchall()
    meta = con.execute("SELECT key, value FROM trace_request_metadata WHERE request_id = ?", (tmpl_id,)).fetchall()
    info_sql = f"INSERT INTO trace_info ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"
    infos, tag_rows, meta_rows = [], [], []
    for i in range(start, end):
        rid = "tr-" + uuid.uuid4().hex
        question = json.dumps({"question": f"question {i}"}, separators=(",", ":"))
        answer = json.dumps(f"answer {i}")
        row = dict(tmpl)
        row.update(
            request_id=rid,
            timestamp_ms=now_ms - i * 100,
            status="ERROR" if i % 50 == 0 else "OK",
            request_preview=question,
            response_preview=answer,
        )
        infos.append(tuple(row[c] for c in cols))
        for t in tags:
            value = t["value"].replace(tmpl_id, rid)
            if t["key"] == "team":
                value = "a" if i % 2 else "b"
            tag_rows.append((t["key"], value, rid))
        for m in meta:
            value = {"mlflow.traceInputs": question, "mlflow.traceOutputs": answer}.get(m["key"], m["value"])
            meta_rows.append((m["key"], value, rid))
    with con:
        con.executemany(info_sql, infos)
        con.executemany("INSERT INTO trace_tags (key, value, request_id) VALUES (?, ?, ?)", tag_rows)
        con.executemany("INSERT INTO trace_request_metadata (key, value, request_id) VALUES (?, ?, ?)", meta_rows)
    print(json.dumps({"traces": end - start, "seconds": round(time.time() - t0, 1)}))


if __name__ == "__main__":
    main()
