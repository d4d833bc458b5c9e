"""Logs traces with the official MLflow client for ui/tests/traces.test.mjs: 55 small traces
(two tagged team=qa), one in a run, one failing trace with an exception event, and one trace of 5,000
spans. Prints SEED:{json} with the ids."""

import json
import sys

import mlflow

mlflow.set_tracking_uri(sys.argv[1])
exp = mlflow.set_experiment("traces-ui")


@mlflow.trace
def answer(question):
    return lookup(question).upper()


@mlflow.trace(span_type="RETRIEVER")
def lookup(question):
    return f"about {question}"


@mlflow.trace
def broken(x):
    raise ValueError(f"bad input {x}")


small = []
for i in range(55):
    answer(f"q{i}")
    small.append(mlflow.get_last_active_trace_id())
for tid in small[:2]:
    mlflow.set_trace_tag(tid, "team", "qa")

with mlflow.start_run(run_name="traced-run") as run:
    answer("in a run")
    in_run = mlflow.get_last_active_trace_id()

try:
    broken(7)
except ValueError:
    pass
failed = mlflow.get_last_active_trace_id()

with mlflow.start_span("big-root") as root:
    root.set_inputs({"n": 5000})
    for k in range(50):
        with mlflow.start_span(f"step-{k}") as step:
            step.set_attribute("step.index", k)
            for j in range(99):
                with mlflow.start_span(f"leaf-{k}-{j}"):
                    pass
big = mlflow.get_last_active_trace_id()

print("SEED:" + json.dumps({"exp": exp.experiment_id, "small": small, "failed": failed, "big": big, "run": run.info.run_id, "in_run": in_run}), flush=True)
