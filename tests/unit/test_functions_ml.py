from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from vokaflow.functions import ml
from vokaflow.functions.arguments import ArgumentError
from vokaflow.functions.data_roots import validation_context
from vokaflow.functions.registry import registry


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("VOKAFLOW_DATA_ROOTS", str(data))
    return data


def blobs(rows: int = 200, seed: int = 1) -> pd.DataFrame:
    """Two well separated Gaussian blobs, labelled by which one a point came from."""
    generator = np.random.default_rng(seed)
    half = rows // 2
    points = np.vstack(
        [generator.normal(-3, 1, (half, 2)), generator.normal(3, 1, (rows - half, 2))]
    )
    labels = ["left"] * half + ["right"] * (rows - half)
    return pd.DataFrame({"x": points[:, 0], "y": points[:, 1], "side": labels})


def _validated(name: str, root: Path, **kwargs: Any) -> dict[str, Any]:
    return registry.get(name).validated([], kwargs, validation_context([root]))[1]


def test_embeddings_become_plain_floats_rounded_to_eight_decimals():
    vectors = ml.rounded_vectors(np.array([[0.123456789123, -1.0]], dtype=np.float32))
    assert vectors == [[pytest.approx(0.12345679, abs=1e-8), -1.0]]
    assert type(vectors[0][0]) is float


def test_a_csv_and_a_parquet_file_read_as_the_same_table(root: Path):
    frame = blobs(10)
    frame.to_csv(root / "t.csv", index=False)
    frame.to_parquet(root / "t.parquet")
    pd.testing.assert_frame_equal(ml.read_table(root / "t.csv"), ml.read_table(root / "t.parquet"))


def test_a_table_of_another_format_is_refused(root: Path):
    (root / "t.xlsx").write_text("x")
    with pytest.raises(ValueError, match="CSV or Parquet"):
        ml.read_table(root / "t.xlsx")


def test_a_non_numeric_feature_is_refused_naming_the_column():
    frame = pd.DataFrame({"a": [1, 2], "colour": ["red", "blue"]})
    with pytest.raises(ValueError, match=r"out: colour \("):
        ml.numeric_features(frame, ["a", "colour"])


def test_missing_values_and_unknown_columns_are_refused():
    frame = pd.DataFrame({"a": [1.0, None]})
    with pytest.raises(ValueError, match="missing values"):
        ml.numeric_features(frame, ["a"])
    with pytest.raises(ValueError, match="no such columns"):
        ml.numeric_features(frame, ["b"])


@pytest.mark.parametrize("algorithm", ["random_forest", "logistic_regression"])
def test_a_classifier_separates_two_blobs(algorithm):
    fitted = ml.fit_classifier(blobs(), "side", None, algorithm, 0.2, 0)
    assert fitted["accuracy"] >= 0.9
    assert fitted["classes"] == ["left", "right"]
    assert fitted["features"] == ["x", "y"]
    assert (fitted["train_rows"], fitted["test_rows"]) == (160, 40)


def test_the_target_cannot_be_a_feature_nor_have_a_single_class():
    with pytest.raises(ValueError, match="cannot also be a feature"):
        ml.fit_classifier(blobs(), "side", ["x", "side"], "random_forest", 0.2, 0)
    with pytest.raises(ValueError, match="at least two classes"):
        ml.fit_classifier(blobs().assign(side="one"), "side", None, "random_forest", 0.2, 0)


def test_rows_are_put_in_the_models_feature_order_and_a_missing_feature_is_named():
    assert ml.feature_matrix([{"y": 2, "x": 1, "extra": 9}], ["x", "y"]) == [[1.0, 2.0]]
    with pytest.raises(ValueError, match=r"rows\[1\] lacks the model's features \['y'\]"):
        ml.feature_matrix([{"x": 1, "y": 2}, {"x": 1}], ["x", "y"])


def test_predictions_carry_a_probability_per_class():
    fitted = ml.fit_classifier(blobs(), "side", None, "logistic_regression", 0.2, 0)
    answer = ml.predictions_of(fitted["estimator"], [[-3.0, -3.0], [3.0, 3.0]])
    assert answer["predictions"] == ["left", "right"]
    assert answer["probabilities"][0][0] > 0.9
    assert json.loads(json.dumps(answer)) == answer


class _RecordedModels:
    """Just enough of the task's model records for load_model."""

    def __init__(self, records: dict[str, str]) -> None:
        self.records = records

    def get(self, name: str) -> dict[str, Any] | None:
        raw = self.records.get(name)
        return None if raw is None else json.loads(raw)


def _saved(root: Path, monkeypatch: pytest.MonkeyPatch, record: bool = True) -> Path:
    fitted = ml.fit_classifier(blobs(), "side", None, "random_forest", 0.2, 0)
    metadata = {"features": fitted["features"], "classes": fitted["classes"]}
    path, digest = ml.save_model(fitted["estimator"], "blobs", metadata)
    records = {"blobs": json.dumps({"sha256": digest})} if record else {}
    registry = _RecordedModels(records)
    monkeypatch.setattr(ml, "_registry", lambda: registry)
    return path


def test_a_saved_model_lies_in_the_models_folder_with_its_metadata_and_loads_back(
    root: Path, monkeypatch: pytest.MonkeyPatch
):
    path = _saved(root, monkeypatch)
    assert path == root / "models" / "blobs.skops"
    assert json.loads(path.with_suffix(".json").read_text())["features"] == ["x", "y"]
    estimator, metadata = ml.load_model("blobs")
    assert list(estimator.predict([[3.0, 3.0]])) == ["right"]
    assert metadata["features"] == ["x", "y"]


def test_a_model_file_changed_after_training_is_not_loaded(
    root: Path, monkeypatch: pytest.MonkeyPatch
):
    path = _saved(root, monkeypatch)
    path.write_bytes(path.read_bytes() + b"tampered")
    with pytest.raises(ValueError, match="not the file train_classifier wrote"):
        ml.load_model("blobs")


def test_the_recorded_digest_is_of_the_bytes_written_not_of_the_file_read_back(
    root: Path, monkeypatch: pytest.MonkeyPatch
):
    """A swap between the write and a read-back would otherwise be recorded as genuine."""
    written: list[bytes] = []
    real_write = ml._write_atomically

    def write_then_swap(path: Path, content: bytes) -> None:
        real_write(path, content)
        if path.suffix == ml.MODEL_SUFFIX:
            written.append(content)
            path.write_bytes(b"swapped in by another task")

    monkeypatch.setattr(ml, "_write_atomically", write_then_swap)
    fitted = ml.fit_classifier(blobs(), "side", None, "random_forest", 0.2, 0)
    _, digest = ml.save_model(fitted["estimator"], "blobs", {})
    assert digest == hashlib.sha256(written[0]).hexdigest()


class _Payload:
    """Stands for any class an attacker's file names."""


def test_a_model_of_untrusted_types_is_refused_even_when_recorded(
    root: Path, monkeypatch: pytest.MonkeyPatch
):
    """skops rebuilds only trusted types: a model file naming any other is not loaded."""
    import skops.io

    path = _saved(root, monkeypatch)
    hostile = skops.io.dumps({"payload": _Payload()})  # a type skops does not trust
    path.write_bytes(hostile)
    records = {"blobs": json.dumps({"sha256": hashlib.sha256(hostile).hexdigest()})}
    monkeypatch.setattr(ml, "_registry", lambda: _RecordedModels(records))
    with pytest.raises(skops.io.exceptions.UntrustedTypesFoundException):
        ml.load_model("blobs")


def test_a_model_file_no_training_recorded_is_not_loaded(
    root: Path, monkeypatch: pytest.MonkeyPatch
):
    _saved(root, monkeypatch, record=False)
    with pytest.raises(FileNotFoundError, match="no model named 'blobs'"):
        ml.load_model("blobs")


@pytest.mark.parametrize(
    ("name", "kwargs", "field"),
    [
        ("embed_text", {"texts": "not a list"}, "kwargs.texts"),
        ("embed_text", {"texts": []}, "kwargs.texts"),
        ("embed_text", {"texts": ["a" * 10_001]}, "kwargs.texts[0]"),
        ("train_classifier", {"target": "side", "model_name": "m"}, "args"),
        (
            "train_classifier",
            {"file_path": "t.csv", "target": "side", "model_name": "../x"},
            "kwargs.model_name",
        ),
        (
            "train_classifier",
            {"file_path": "t.csv", "target": "side", "model_name": "m", "test_size": 0.9},
            "kwargs.test_size",
        ),
        (
            "train_classifier",
            {"file_path": "/etc/passwd", "target": "side", "model_name": "m"},
            "kwargs.file_path",
        ),
        ("predict", {"model_name": "a/b", "rows": [{"x": 1}]}, "kwargs.model_name"),
        ("predict", {"model_name": "m", "rows": []}, "kwargs.rows"),
        ("predict", {"model_name": "m", "rows": [{"x": "high"}]}, "kwargs.rows[0].x"),
    ],
)
def test_bad_arguments_are_refused_naming_the_field(root: Path, name, kwargs, field):
    (root / "t.csv").write_text("x,side\n1,a\n")
    with pytest.raises(ArgumentError) as raised:
        _validated(name, root, **kwargs)
    assert raised.value.field == field


def test_good_arguments_pass_with_the_path_resolved(root: Path):
    (root / "t.csv").write_text("x,side\n1,a\n")
    checked = _validated("train_classifier", root, file_path="t.csv", target="side", model_name="m")
    assert checked["file_path"] == str(root / "t.csv")


def test_predict_answers_for_rows_and_for_a_file(root: Path, monkeypatch: pytest.MonkeyPatch):
    _saved(root, monkeypatch)
    rows = [{"x": -3.0, "y": -3.0}, {"x": 3.0, "y": 3.0}]
    by_rows = ml.predict("blobs", rows=rows)
    assert by_rows["predictions"] == ["left", "right"]
    pd.DataFrame(rows).to_csv(root / "new.csv", index=False)
    assert ml.predict("blobs", file_path=str(root / "new.csv")) == by_rows


def test_predict_wants_exactly_one_of_rows_and_file_path():
    entry = registry.get("predict")
    with pytest.raises(ArgumentError, match="either rows or file_path") as neither:
        entry.validated([], {"model_name": "blobs"})
    assert neither.value.field == "kwargs.rows"
