"""Fits an ElasticNet regression on scikit-learn's diabetes data set and tracks it.

Run it as an MLflow project (`mlox run examples/sklearn_elasticnet -P alpha=0.3`, or the
same with `mlflow run`): the launcher creates the run and passes MLFLOW_RUN_ID, so
`mlflow.start_run()` below continues that run instead of starting a new one.
"""

import argparse

import mlflow
import mlflow.sklearn
import numpy as np
from mlflow.models import infer_signature
from sklearn.datasets import load_diabetes
from sklearn.linear_model import ElasticNet
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--l1-ratio", type=float, default=0.1)
    parser.add_argument("--max-iter", type=int, default=1000)
    # Parameters the MLproject does not declare arrive as `--name value`; ignore them.
    args, _unknown = parser.parse_known_args()

    X, y = load_diabetes(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=42)

    with mlflow.start_run():
        model = ElasticNet(alpha=args.alpha, l1_ratio=args.l1_ratio, max_iter=args.max_iter, random_state=42)
        model.fit(X_train, y_train)
        predicted = model.predict(X_test)

        rmse = float(np.sqrt(mean_squared_error(y_test, predicted)))
        mae = float(mean_absolute_error(y_test, predicted))
        r2 = float(r2_score(y_test, predicted))
        print(f"ElasticNet (alpha={args.alpha:f}, l1_ratio={args.l1_ratio:f}): RMSE={rmse:.3f} MAE={mae:.3f} R2={r2:.3f}")

        # Parameters and metrics first, so they are recorded even where the model upload
        # below cannot happen.
        mlflow.log_params({"n_train": len(X_train), "n_test": len(X_test)})
        mlflow.log_metrics({"rmse": rmse, "mae": mae, "r2": r2})

        signature = infer_signature(X_train, model.predict(X_train))
        mlflow.sklearn.log_model(model, name="model", signature=signature)


if __name__ == "__main__":
    main()
