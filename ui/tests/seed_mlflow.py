"""Data for the browser tests, logged by the official MLflow client (3.17.2).

Usage: python seed_mlflow.py <tracking-uri>. Prints the client's own output (its
"View run … at:" links included), then one JSON line of ids prefixed with SEED:.
"""

import json
import sys

import mlflow
import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient
from sklearn.linear_model import LogisticRegression

uri = sys.argv[1]
mlflow.set_tracking_uri(uri)
client = MlflowClient()

exp = mlflow.set_experiment("client-exp")
client.set_experiment_tag(
    exp.experiment_id,
    "mlflow.note.content",
    "Experiment **notes**: compare with `a > b && c < d`.\n\n```python\nif x > 1 and y < 2:\n    print('a & b')\n```\n",
)

client.set_experiment_tag(exp.experiment_id, "team", "vision")

X = pd.DataFrame({"sepal_length": [5.1, 4.9, 6.2, 5.9], "petal_width": [0.2, 0.2, 1.8, 1.5]})
y = [0, 0, 1, 1]

with mlflow.start_run(run_name="parent-run") as parent:
    mlflow.log_params({"alpha": 0.5, "solver": "lbfgs"})
    mlflow.log_input(mlflow.data.from_pandas(X, name="iris-train"), context="training")
    for step in range(30):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metric("system/cpu_utilization_percentage", 20 + step % 7, step=step)
    mlflow.log_metric("accuracy", 0.93)
    for step in range(3):
        img = np.zeros((8, 8, 3), dtype=np.uint8)
        img[:, :, step] = 255
        mlflow.log_image(img, key="samples/rgb", step=step)
    mlflow.set_tag("mlflow.note.content", "Run notes with `x -> y` and\n\n```\n<b>not bold</b> & more\n```\n")
    mlflow.log_text(
        "<html><body><h1 id='t'>static</h1><script>document.getElementById('t').textContent = 'HTML report rendered';</script></body></html>",
        "report.html",
    )
    mlflow.log_text("x" * 10, "a_rather_long_artifact_file_name_that_would_overflow_the_file_tree_panel_easily.txt")
    model = LogisticRegression().fit(X, y)
    info = mlflow.sklearn.log_model(
        model,
        name="iris-clf",
        input_example=X.head(2),
        registered_model_name="client-model",
        pip_requirements=["scikit-learn"],
        params={"C": 1.0},
    )
    mlflow.log_metric("val_f1", 0.88, model_id=info.model_id)
    children = []
    for k in range(2):
        with mlflow.start_run(run_name=f"child-{k}", nested=True) as child:
            mlflow.log_param("fold", k)
            mlflow.log_metric("loss", 0.5 + k)
            children.append(child.info.run_id)

# A deleted run, shown marked in the "All" view.
with mlflow.start_run(run_name="deleted-run") as gone:
    mlflow.log_metric("loss", 3.0)
client.delete_run(gone.info.run_id)

print(
    "SEED:"
    + json.dumps(
        {
            "exp": exp.experiment_id,
            "parent": parent.info.run_id,
            "children": children,
            "deleted": gone.info.run_id,
            "model_id": info.model_id,
            "model_name": "client-model",
        }
    ),
    flush=True,
)
