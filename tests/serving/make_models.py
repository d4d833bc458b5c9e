"""Trains and saves the serving test models (scikit-learn and their skl2onnx exports).

    python make_models.py OUT_DIR [--tracking-uri URI]

Writes OUT_DIR/{logreg,rf,logreg_onnx,rf_onnx}/ as MLflow model directories and
OUT_DIR/data.json with the feature names and held-out rows. With --tracking-uri the
models are also logged to that server (sklearn ones registered as `serve-logreg` with
alias `champion`), and OUT_DIR/logged.json records the run ids and model names.
"""

import argparse
import json
import os

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

import mlflow
import mlflow.onnx
import mlflow.sklearn
from mlflow.models import infer_signature
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType

FEATURES = ["f0", "f1", "f2", "f3"]


def data():
    x, y = make_classification(
        n_samples=400, n_features=4, n_informative=3, n_redundant=0, random_state=7
    )
    return pd.DataFrame(x, columns=FEATURES), y


def to_onnx(model, zipmap):
    return convert_sklearn(
        model,
        initial_types=[("input", FloatTensorType([None, len(FEATURES)]))],
        target_opset={"": 17, "ai.onnx.ml": 3},
        options={id(model): {"zipmap": zipmap}},
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--tracking-uri")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    x, y = data()
    train_x, test_x, train_y = x[:300], x[300:], y[:300]
    logreg = LogisticRegression(max_iter=500).fit(train_x, train_y)
    rf = RandomForestClassifier(n_estimators=20, max_depth=6, random_state=0).fit(train_x, train_y)
    example = train_x.head(3)
    tensor_example = train_x.head(3).to_numpy(dtype=np.float32)

    # The sklearn models take a DataFrame (column signature); the ONNX logistic regression
    # a float32 tensor (tensor signature, tensor outputs); the ONNX forest a DataFrame with
    # ZipMap outputs (column signature, list-of-dict probabilities).
    specs = {
        "logreg": lambda p: mlflow.sklearn.save_model(logreg, p, input_example=example),
        "rf": lambda p: mlflow.sklearn.save_model(
            rf, p, input_example=example, serialization_format="cloudpickle"
        ),
        "logreg_onnx": lambda p: mlflow.onnx.save_model(
            to_onnx(logreg, False),
            p,
            input_example=tensor_example,
            signature=infer_signature(tensor_example),
        ),
        "rf_onnx": lambda p: mlflow.onnx.save_model(to_onnx(rf, True), p, input_example=example),
    }
    for name, save in specs.items():
        path = os.path.join(args.out, name)
        if not os.path.exists(os.path.join(path, "MLmodel")):
            save(path)
    with open(os.path.join(args.out, "data.json"), "w") as f:
        json.dump({"columns": FEATURES, "rows": test_x.values.tolist()}, f)

    if args.tracking_uri:
        mlflow.set_tracking_uri(args.tracking_uri)
        mlflow.set_experiment("serving-tests")
        with mlflow.start_run() as run:
            info = mlflow.sklearn.log_model(
                logreg,
                name="model",
                input_example=example,
                registered_model_name="serve-logreg",
            )
            onnx_info = mlflow.onnx.log_model(
                to_onnx(logreg, False),
                name="onnx_model",
                input_example=tensor_example,
                signature=infer_signature(tensor_example),
            )
        client = mlflow.MlflowClient()
        version = info.registered_model_version
        client.set_registered_model_alias("serve-logreg", "champion", version)
        # A stage too, for models:/<name>/<stage> (deprecated in MLflow, still served).
        client.transition_model_version_stage("serve-logreg", version, "Production")
        with open(os.path.join(args.out, "logged.json"), "w") as f:
            json.dump(
                {
                    "run_id": run.info.run_id,
                    "model_id": info.model_id,
                    "onnx_model_id": onnx_info.model_id,
                    "registered": "serve-logreg",
                    "version": str(version),
                },
                f,
            )


if __name__ == "__main__":
    main()
