"""The audio functions through the real HTTP API, on a 440 Hz tone and on espeak-ng's speech
written into the stack's data root: the tone's analysis, a conversion read back with
soundfile, the speech transcribed by the default model (Whisper tiny.en on faster-whisper)
in a worker, failures that name their cause, and bad input refused at submit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from tests.integration.helpers import submit, wait_until
from vokaflow.testing.speech import (
    MAX_WORD_ERROR_RATE_ONE_SENTENCE,
    SENTENCES,
    espeak_available,
    speak,
    word_error_rate,
)

SUBMIT = "/api/high-scale-tasks/submit"
RATE = 22050


@pytest.fixture(scope="module")
def tone(data_root: Path) -> Path:
    """2.0 s of 440 Hz at 22050 Hz, mono 16-bit WAV."""
    folder = data_root / "audio-it"
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(2.0 * RATE)) / RATE
    path = folder / "a440.wav"
    sf.write(path, 0.5 * np.sin(2 * np.pi * 440 * t), RATE)
    return path


@pytest.fixture(scope="module")
def speech(data_root: Path) -> Path:
    """SENTENCES[1] as espeak-ng says it (22,050 Hz mono WAV)."""
    if not espeak_available():
        pytest.fail("espeak-ng is not installed: `make test-packages` (apt-get install espeak-ng)")
    folder = data_root / "audio-it"
    folder.mkdir(parents=True, exist_ok=True)
    return speak(SENTENCES[1], folder / "speech.wav")


def _finished(api: Any, function_name: str, timeout_s: float, **kwargs: Any) -> dict[str, Any]:
    task = submit(api, function_name, kwargs=kwargs, retry_count=0)
    return wait_until(api, task["task_id"], timeout_s=timeout_s)


def _run(api: Any, function_name: str, timeout_s: float = 120.0, **kwargs: Any) -> Any:
    done = _finished(api, function_name, timeout_s, **kwargs)
    assert done["status"] == "completed", done
    return done["result"]


def _failed(api: Any, function_name: str, timeout_s: float = 120.0, **kwargs: Any) -> Any:
    done = _finished(api, function_name, timeout_s, **kwargs)
    assert done["status"] == "failed", done
    return done["error"]


def _refused(api: Any, function_name: str, **kwargs: Any) -> dict[str, Any]:
    reply = api.post(SUBMIT, json={"name": "bad", "function_name": function_name, "kwargs": kwargs})
    assert reply.status_code == 400, reply.text
    body: dict[str, Any] = reply.json()
    assert body["error"] == "validation_error"
    return body["details"]


def test_the_analysis_of_a_two_second_440_hz_tone_reports_its_length_and_pitch(api, tone):
    result = _run(api, "audio_analysis", file_path=str(tone.relative_to(tone.parents[1])))
    assert result["file_path"] == str(tone.resolve())
    assert result["basic"]["duration_s"] == pytest.approx(2.0, abs=0.01)
    assert (result["basic"]["sample_rate"], result["basic"]["channels"]) == (RATE, 1)
    assert result["pitch"]["median_f0_hz"] == pytest.approx(440, rel=0.02)
    assert result["tempo"]["beat_count"] == 0, "a steady tone has no beat"
    assert len(result["mfcc"]["mfcc_mean"]) == 13
    assert result["energy"]["rms_max"] > result["energy"]["rms_mean"] > 0.3
    assert result["spectral"]["spectral_centroid_mean_hz"] == pytest.approx(440, rel=0.05)


def test_the_analysis_makes_only_the_analyses_asked_for(api, tone):
    result = _run(api, "audio_analysis", file_path=str(tone), analysis_types=["zcr", "basic"])
    assert set(result) == {"file_path", "analysis_types", "zcr", "basic"}
    assert result["analysis_types"] == ["zcr", "basic"]


def test_a_conversion_to_16_khz_mono_flac_reads_back_as_such(api, tone):
    output = tone.parent / "converted" / "a440.flac"
    result = _run(
        api,
        "audio_convert",
        file_path=str(tone),
        output_path=str(output),
        sample_rate=16000,
        channels=1,
        format="flac",
    )
    assert result["output_path"] == str(output.resolve())
    assert (result["sample_rate"], result["channels"], result["format"]) == (16000, 1, "flac")
    assert result["duration_s"] == pytest.approx(2.0, abs=0.01)
    samples, rate = sf.read(output)
    info = sf.info(output)
    assert (info.format, rate, info.channels) == ("FLAC", 16000, 1)
    assert len(samples) == 32000
    crossings = np.count_nonzero(np.diff(np.signbit(samples)))
    assert crossings / 2 / 2.0 == pytest.approx(440, rel=0.02), "still a 440 Hz tone"


def test_speech_is_transcribed_in_a_worker_by_the_default_model(api, speech):
    result = _run(api, "audio_transcription", timeout_s=240, file_path=str(speech), language="en")
    assert set(result) == {"text", "language", "model", "engine", "duration_s", "segments"}
    assert word_error_rate(SENTENCES[1], result["text"]) <= MAX_WORD_ERROR_RATE_ONE_SENTENCE, result
    assert (result["language"], result["model"], result["engine"]) == (
        "en",
        "whisper_tiny_en",
        "faster_whisper",
    )
    assert result["duration_s"] == pytest.approx(sf.info(speech).duration, abs=0.01)
    assert result["segments"][0]["start"] >= 0
    assert result["segments"][-1]["end"] <= result["duration_s"]


def test_an_analysis_includes_a_transcription_only_when_it_is_named(api, speech):
    named = _run(
        api,
        "audio_analysis",
        timeout_s=240,
        file_path=str(speech),
        analysis_types=["basic", "transcription"],
    )
    assert named["transcription"]["model"] == "whisper_tiny_en"
    assert (
        word_error_rate(SENTENCES[1], named["transcription"]["text"])
        <= MAX_WORD_ERROR_RATE_ONE_SENTENCE
    ), named
    assert "transcription" not in _run(api, "audio_analysis", file_path=str(speech))


def test_a_transcription_without_a_language_reports_english_for_the_english_only_model(api, speech):
    result = _run(api, "audio_transcription", timeout_s=240, file_path=str(speech))
    assert result["language"] == "en"


def test_another_language_fails_the_task_naming_the_models_languages(api, speech):
    error = _failed(api, "audio_transcription", file_path=str(speech), language="es")
    assert error["type"] == "UnsupportedLanguage"
    assert error["message"].startswith("whisper_tiny_en is English-only (languages: en)")


def test_a_text_file_named_wav_fails_the_task_naming_the_file(api, data_root):
    notes = data_root / "audio-it" / "notes.wav"
    notes.parent.mkdir(parents=True, exist_ok=True)
    notes.write_text("not a sound\n")
    error = _failed(api, "audio_transcription", file_path=str(notes))
    assert error["type"] == "ValueError"
    assert error["message"].startswith(f"cannot read {notes.resolve()} as audio")


@pytest.mark.parametrize(
    ("function_name", "kwargs", "field"),
    [
        ("audio_analysis", {"analysis_types": "pitch"}, "kwargs.analysis_types"),
        ("audio_analysis", {"analysis_types": ["pitch", "loudness"]}, "kwargs.analysis_types[1]"),
        ("audio_analysis", {"analysis_types": []}, "kwargs.analysis_types"),
        ("audio_convert", {"output_path": "o.wav", "sample_rate": 4000}, "kwargs.sample_rate"),
        ("audio_convert", {"output_path": "o.wav", "sample_rate": "fast"}, "kwargs.sample_rate"),
        ("audio_convert", {"output_path": "o.wav", "channels": 6}, "kwargs.channels"),
        ("audio_convert", {"output_path": "o.mp3", "format": "mp3"}, "kwargs.format"),
        ("audio_convert", {"output_path": "../o.wav"}, "kwargs.output_path"),
        ("audio_transcription", {"language": "Spanish"}, "kwargs.language"),
        ("audio_transcription", {"language": 7}, "kwargs.language"),
    ],
)
def test_bad_arguments_are_refused_at_submit_naming_the_field(
    api, tone, function_name, kwargs, field
):
    details = _refused(api, function_name, file_path=str(tone), **kwargs)
    assert details["field"] == field


@pytest.mark.parametrize(
    "function_name", ["audio_analysis", "audio_convert", "audio_transcription"]
)
@pytest.mark.parametrize("path", ["../x.wav", "/etc/passwd", "audio-it/missing.wav", "audio-it"])
def test_a_path_outside_the_data_root_missing_or_not_a_file_is_refused(
    api, tone, function_name, path
):
    extra = {"output_path": "audio-it/out.wav"} if function_name == "audio_convert" else {}
    details = _refused(api, function_name, file_path=path, **extra)
    assert details["field"] == "kwargs.file_path"
