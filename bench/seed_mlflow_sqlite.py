"""Bulk-seed runs into a *running* MLflow server's database (SQLite file, or PostgreSQL
when DB is a postgresql:// URL; psycopg2 is then needed).

Used by bench/run.sh only for the MLflow server, because seeding 10,000 runs through
MLflow's REST API (two requests per run) takes many minutes on a 2-core machine.
The first runs of the experiment are seeded through the REST API by `mlox-loadgen
seed-search` (which also measures MLflow's seeding rate); this script adds the rest in
one transaction, cloning the row layout of one of those REST-created runs (so every
column MLflow fills on its own, such as artifact_uri, source_type and the
mlflow.runName tag, looks exactly as MLflow writes it).

    mlox-loadgen seed-data --from 1000 --to 10000 | python seed_mlflow_sqlite.py DB EXPERIMENT_ID
    (DB: a SQLite file path, or postgresql://user@host:port/db)

Reads JSON lines {"i", "params": {k: v}, "metrics": {k: v}, "tags": {k: v}} on stdin.
Prints one JSON object with the number of runs inserted and the seconds it took.
"""

import json
import sqlite3
import sys
import time
import uuid


def main() -> None:
    db, experiment_id = sys.argv[1], int(sys.argv[2])
    t0 = time.time()
    pg = db.startswith("postgresql://")
    if pg:
        import psycopg2
        import psycopg2.extras

        con = psycopg2.connect(db)
        cur = con.cursor(cursor_factory=psycopg2.extras.DictCursor)

        def sql(q):
            return q.replace("?", "%s")

        false = False  # MLflow's is_nan is a boolean column on PostgreSQL
    else:
        con = sqlite3.connect(db, timeout=60)
        con.row_factory = sqlite3.Row
        cur = con.cursor()

        def sql(q):
            return q

        false = 0
    cur.execute(
        sql("SELECT * FROM runs WHERE experiment_id = ? ORDER BY start_time LIMIT 1"), (experiment_id,)
    )
    tmpl = cur.fetchone()
    if tmpl is None:
        sys.exit(f"no template run in experiment {experiment_id}: seed a few runs over REST first")
    run_cols = list(tmpl.keys())
    tmpl_id = tmpl["run_uuid"]
    tmpl_name = tmpl["name"]
    tmpl_start = tmpl["start_time"]
    tmpl = tuple(tmpl)
    # System tags MLflow added to the template run (mlflow.runName, maybe mlflow.user ...).
    cur.execute(sql("SELECT key, value FROM tags WHERE run_uuid = ?"), (tmpl_id,))
    sys_tags = [(r["key"], r["value"]) for r in cur.fetchall() if r["key"].startswith("mlflow.")]

    runs, tags, params, metrics, latest = [], [], [], [], []
    base_ts = tmpl_start
    for line in sys.stdin:
        d = json.loads(line)
        i = d["i"]
        rid = uuid.uuid4().hex
        name = f"bench-run-{i}"
        ts = base_ts + i
        row = dict(zip(run_cols, tuple(tmpl)))
        row["run_uuid"] = rid
        row["name"] = name
        row["start_time"] = ts
        if row.get("artifact_uri"):
            row["artifact_uri"] = row["artifact_uri"].replace(tmpl_id, rid)
        runs.append(tuple(row[c] for c in run_cols))
        for k, v in sys_tags:
            tags.append((k, name if k == "mlflow.runName" and v == tmpl_name else v, rid))
        for k, v in d["tags"].items():
            tags.append((k, v, rid))
        for k, v in d["params"].items():
            params.append((k, v, rid))
        for k, v in d["metrics"].items():
            metrics.append((k, float(v), ts, rid, 0, false))
            latest.append((k, float(v), ts, 0, false, rid))

    cols = ", ".join(f'"{c}"' for c in run_cols)
    marks = ", ".join("?" for _ in run_cols)
    def many(q, rows):
        if pg:
            psycopg2.extras.execute_batch(cur, sql(q), rows, page_size=1000)
        else:
            cur.executemany(q, rows)

    many(f"INSERT INTO runs ({cols}) VALUES ({marks})", runs)
    many('INSERT INTO tags ("key", value, run_uuid) VALUES (?, ?, ?)', tags)
    many('INSERT INTO params ("key", value, run_uuid) VALUES (?, ?, ?)', params)
    many(
        'INSERT INTO metrics ("key", value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)',
        metrics,
    )
    many(
        'INSERT INTO latest_metrics ("key", value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, ?, ?)',
        latest,
    )
    con.commit()
    con.close()
    print(json.dumps({"scenario": "seed-sql", "runs": len(runs), "seconds": round(time.time() - t0, 3)}))


if __name__ == "__main__":
    main()
