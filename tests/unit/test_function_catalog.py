"""The built-in catalog: 26 functions in the spec's 9 categories, each fully described."""

from __future__ import annotations

import inspect
import subprocess
import sys

from vokaflow.domain import CATEGORIES
from vokaflow.functions import registry

CATALOG = {
    "vicky": {"vicky_inference", "vicky_chat", "vicky_training"},
    "audio": {"audio_analysis", "audio_transcription", "audio_convert"},
    "database": {"bulk_insert", "complex_query", "export_table"},
    "notifications": {"send_email", "send_webhook", "broadcast_notification"},
    "files": {"compress_files", "file_checksum", "convert_file"},
    "analytics": {"aggregate_metrics", "detect_anomalies", "generate_report"},
    "ml": {"embed_text", "train_classifier", "predict"},
    "system": {"health_check", "cache_cleanup", "log_rotation", "backup_state"},
    "realtime": {"publish_event"},
}


def _built_in_listed() -> dict[str, set[str]]:
    listed: dict[str, set[str]] = {}
    for entry in registry.listed():
        if entry.call.__module__.startswith("vokaflow.functions."):
            listed.setdefault(entry.category, set()).add(entry.name)
    return listed


def test_the_catalog_lists_exactly_its_26_functions_in_the_nine_spec_categories():
    assert _built_in_listed() == CATALOG
    assert sum(len(names) for names in CATALOG.values()) == 26
    assert set(CATALOG) == set(CATEGORIES)


def test_every_catalog_function_declares_typed_parameters_and_a_description():
    for entry in registry.listed():
        assert entry.description and entry.estimated_duration
        assert set(entry.parameters) <= set(inspect.signature(entry.call).parameters)


def test_the_drills_are_submittable_but_not_listed():
    for name in ("noop", "sleep", "raise_error", "echo", "statistical_summary"):
        assert registry.find(name) is not None
        assert registry.find(name) not in registry.listed()


def test_importing_the_catalog_loads_no_heavy_library():
    code = (
        "import sys, vokaflow.functions\n"
        "heavy = {'numpy', 'pandas', 'torch', 'librosa', 'sklearn', 'sqlalchemy', "
        "'pyarrow', 'matplotlib', 'sentence_transformers', 'transformers'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"
