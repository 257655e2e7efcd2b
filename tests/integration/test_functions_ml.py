"""The ``ml`` functions through the HTTP API: embeddings from the bundled model, a classifier
trained on a CSV in the data root, and predictions with it. The test stack allows the `ml`
category 2 tasks a second (burst 5), so submits wait out a 429."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from tests.integration.helpers import wait_until

SUBMIT = "/api/high-scale-tasks/submit"
MODEL = "blobs"


def _post(api, function_name: str, **kwargs: Any):
    """The submit's reply, after waiting out the category's rate limit if it answers 429."""
    body = {
        "name": f"test {function_name}",
        "function_name": function_name,
        "kwargs": kwargs,
        "retry_count": 0,  # a task expected to fail fails at once
    }
    for _ in range(20):
        reply = api.post(SUBMIT, json=body)
        if reply.status_code != 429:
            return reply
        time.sleep(float(reply.json()["details"]["retry_after"]))
    raise AssertionError("still rate limited after 20 tries")


def _finished(api, function_name: str, **kwargs: Any) -> dict[str, Any]:
    reply = _post(api, function_name, **kwargs)
    assert reply.status_code == 200, reply.text
    # the first ml task of a worker loads scikit-learn or the sentence model
    return wait_until(api, reply.json()["task_id"], timeout_s=240)


def _result(api, function_name: str, **kwargs: Any) -> Any:
    done = _finished(api, function_name, **kwargs)
    assert done["status"] == "completed", done
    return done["result"]


def _cosine(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_embeddings_put_sentences_that_mean_the_same_closer_together(api):
    texts = [
        "A man is playing a guitar.",
        "Someone plays a guitar.",
        "The stock market fell today.",
    ]
    result = _result(api, "embed_text", texts=texts)
    assert result["model"] == "all-MiniLM-L6-v2" and result["dimensions"] == 384
    guitar, plays, market = result["embeddings"]
    assert all(len(vector) == 384 for vector in result["embeddings"])
    assert _cosine(guitar, plays) > _cosine(guitar, market) + 0.3
    assert np.linalg.norm(guitar) == pytest.approx(1.0, abs=1e-4)


@pytest.fixture(scope="module")
def blobs_csv(data_root):
    """Two well separated Gaussian blobs, 200 rows, labelled by side."""
    generator = np.random.default_rng(7)
    points = np.vstack([generator.normal(-3, 1, (100, 2)), generator.normal(3, 1, (100, 2))])
    path = data_root / "ml" / "blobs.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [f"{x:.5f},{y:.5f},{'left' if i < 100 else 'right'}" for i, (x, y) in enumerate(points)]
    path.write_text("x,y,side\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def trained(api, blobs_csv) -> dict[str, Any]:
    return _result(
        api, "train_classifier", file_path="ml/blobs.csv", target="side", model_name=MODEL
    )


def test_a_classifier_trained_on_separable_blobs_is_accurate_and_saved(trained, data_root):
    assert trained["accuracy"] >= 0.9
    assert trained["classes"] == ["left", "right"] and trained["features"] == ["x", "y"]
    assert (trained["train_rows"], trained["test_rows"]) == (160, 40)
    assert trained["path"] == str(data_root / "models" / f"{MODEL}.skops")
    assert (data_root / "models" / f"{MODEL}.skops").is_file()
    assert (data_root / "models" / f"{MODEL}.json").is_file()


def test_predictions_for_rows_name_the_right_classes(api, trained):
    rows = [{"x": -3.2, "y": -2.9}, {"x": 3.1, "y": 2.7}, {"x": -2.5, "y": -3.5}]
    result = _result(api, "predict", model_name=MODEL, rows=rows)
    assert result["predictions"] == ["left", "right", "left"]
    assert len(result["probabilities"]) == 3 and result["probabilities"][1][1] > 0.9


def test_predictions_for_a_file_match_those_for_its_rows(api, trained, data_root):
    (data_root / "ml" / "new.csv").write_text("x,y\n3,3\n-3,-3\n")
    result = _result(api, "predict", model_name=MODEL, file_path="ml/new.csv")
    assert result["predictions"] == ["right", "left"]


def test_a_model_never_trained_fails_the_task_naming_it(api):
    done = _finished(api, "predict", model_name="never-trained", rows=[{"x": 1.0}])
    assert done["status"] == "failed"
    assert "no model named 'never-trained'" in done["error"]["message"]


def test_a_non_numeric_feature_fails_the_training_naming_the_column(api, data_root):
    (data_root / "ml" / "words.csv").write_text("colour,side\nred,a\nblue,b\nred,a\nblue,b\n")
    done = _finished(
        api, "train_classifier", file_path="ml/words.csv", target="side", model_name="words"
    )
    assert done["status"] == "failed"
    assert "features must be numeric" in done["error"]["message"]
    assert "colour" in done["error"]["message"]


@pytest.mark.parametrize(
    ("function_name", "kwargs", "field"),
    [
        ("embed_text", {"texts": "not a list"}, "kwargs.texts"),
        ("embed_text", {"texts": ["fine", 12]}, "kwargs.texts[1]"),
        (
            "train_classifier",
            {"file_path": "ml/blobs.csv", "target": "side", "model_name": "../x"},
            "kwargs.model_name",
        ),
        (
            "train_classifier",
            {"file_path": "ml/blobs.csv", "target": "side", "model_name": "m", "test_size": 0.9},
            "kwargs.test_size",
        ),
        (
            "train_classifier",
            {"file_path": "../../etc/passwd", "target": "side", "model_name": "m"},
            "kwargs.file_path",
        ),
        (
            "train_classifier",
            {"file_path": "/etc/passwd", "target": "side", "model_name": "m"},
            "kwargs.file_path",
        ),
        (
            "train_classifier",
            {"file_path": "ml/blobs.csv", "target": "side", "model_name": "m", "algorithm": "svm"},
            "kwargs.algorithm",
        ),
        ("predict", {"model_name": "../x", "rows": [{"x": 1}]}, "kwargs.model_name"),
        ("predict", {"model_name": "m", "file_path": "/etc/hosts"}, "kwargs.file_path"),
        ("predict", {"model_name": "m", "rows": [{"x": "high"}]}, "kwargs.rows[0].x"),
    ],
)
def test_bad_arguments_get_400_naming_the_field(api, blobs_csv, function_name, kwargs, field):
    reply = _post(api, function_name, **kwargs)
    assert reply.status_code == 400, reply.text
    body = reply.json()
    assert body["error"] == "validation_error"
    assert body["details"]["field"] == field
