"""Writes an MLflow tracking database for the import benchmark directly with SQL (the
client would take hours): MLflow creates its schema (at its head revision), then RUNS runs
in one experiment, each with KEYS metric keys of POINTS/(RUNS*KEYS) steps, a param, a tag
and their latest metrics.

usage: gen_mlflow_db.py PATH RUNS POINTS [KEYS]
"""

import random
import sqlite3
import sys
import time
import uuid


def main():
    path, runs, points = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    keys = int(sys.argv[4]) if len(sys.argv) > 4 else 10
    steps = max(1, points // (runs * keys))
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    t0 = time.time()
    SqlAlchemyStore(f"sqlite:///{path}", "/tmp/mlox-bench-artifacts")
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode = OFF")
    con.execute("PRAGMA synchronous = OFF")
    con.execute(
        "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES (1, 'bench', 'mlflow-artifacts:/1', 'active', 1, 1)"
    )
    rng = random.Random(7)
    base = 1_700_000_000_000
    for r in range(runs):
        run = uuid.UUID(int=rng.getrandbits(128)).hex
        con.execute(
            "INSERT INTO runs (run_uuid, name, source_type, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri, experiment_id) VALUES (?, ?, 'UNKNOWN', 'bench', 'FINISHED', ?, ?, 'active', ?, 1)",
            (run, f"run-{r}", base + r, base + r + 1000, f"mlflow-artifacts:/1/{run}/artifacts"),
        )
        con.execute("INSERT INTO params (key, value, run_uuid) VALUES ('lr', ?, ?)", (str(r), run))
        con.execute("INSERT INTO tags (key, value, run_uuid) VALUES ('mlflow.runName', ?, ?)", (f"run-{r}", run))
        rows = []
        for k in range(keys):
            key = f"metric_{k}"
            for s in range(steps):
                rows.append((key, rng.random(), base + s, run, s, 0))
            con.execute(
                "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, 0, ?)",
                (key, rows[-1][1], base + steps - 1, steps - 1, run),
            )
        con.executemany(
            "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        if r % 100 == 0:
            con.commit()
    con.commit()
    n = con.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
    con.close()
    print(f"{path}: {runs} runs, {n} metric points, written in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
