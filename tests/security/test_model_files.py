"""Finding 1: a tenant must not get its code run by `predict`.

The attack: while `train_classifier` writes `models/<name>`, a concurrent `export_table`
(or any function with an output path) writes a file of the tenant's choosing over it, a
CSV that is also a valid pickle; `predict` then unpickles it in a worker that holds the
service's Redis client. Every step is closed: no output path reaches a models folder,
models are skops files (no pickle), and the recorded digest is of the bytes written."""

from __future__ import annotations

import pytest

from tests.security.attacks import post_task, refused_field, run_task

PICKLE_AS_CSV = "Ua\ncos\nsystem\n(S'touch /tmp/pwned'\ntR.\n"


def _refused_output(client, function_name: str, **kwargs) -> str:
    return refused_field(post_task(client, function_name, kwargs=kwargs))


@pytest.mark.parametrize(
    "output_path",
    ["models/victim.skops", "models/.victim.skops.4242.partial", "models", "./models/sub/y.csv"],
)
def test_no_function_may_write_into_the_models_folder(stack, data_root, tenant, output_path):
    client = tenant()
    field = _refused_output(client, "export_table", table="t", output_path=output_path)
    assert field == "kwargs.output_path"


def test_every_output_path_function_is_refused_the_models_folder(stack, data_root, tenant):
    client = tenant("model-swapper")
    source = data_root / "principals" / "model-swapper" / "in.csv"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(PICKLE_AS_CSV)
    for function_name, kwargs in [
        ("convert_file", {"file_path": "in.csv", "to_format": "csv"}),
        ("compress_files", {"paths": ["in.csv"]}),
        ("generate_report", {"file_path": "in.csv"}),
    ]:
        path = "models/victim.html" if function_name == "generate_report" else "models/victim"
        field = _refused_output(client, function_name, output_path=path, **kwargs)
        assert field == "kwargs.output_path", function_name


def test_a_trained_model_is_written_as_skops_not_as_a_pickle(stack, data_root, tenant):
    client = tenant("skops-trainer")
    folder = data_root / "principals" / "skops-trainer"
    folder.mkdir(parents=True, exist_ok=True)
    rows = [f"{i},{i % 7},{'a' if i < 20 else 'b'}" for i in range(40)]
    (folder / "t.csv").write_text("x,y,label\n" + "\n".join(rows) + "\n")
    kwargs = {"file_path": "t.csv", "target": "label", "model_name": "m"}
    done = run_task(client, "train_classifier", kwargs=kwargs)
    assert done["status"] == "completed", done
    model = folder / "models" / "m.skops"
    assert done["result"]["path"] == str(model)
    assert model.read_bytes()[:2] == b"PK", "a skops file is a zip archive, not a pickle"
    assert not (folder / "models" / "m.joblib").exists()
