"""``audio`` functions: features of a sound file (librosa), speech to text with a Whisper
model named in the ``speech_models:`` section of models/registry.yaml (transformers), and
conversion between sample rates, channel counts and formats (soundfile).

Files are read with soundfile at their own sample rate; librosa, numpy, torch and
transformers are imported inside the functions, so importing this module stays cheap."""

from __future__ import annotations

import functools
import math
import os
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, Field

from vokaflow.domain import WorkerType
from vokaflow.functions.context import current_settings, report_progress
from vokaflow.functions.data_roots import DataPath, OutputPath
from vokaflow.functions.registry import function
from vokaflow.vicky.registry import (
    REPO_ROOT,
    ModelSpec,
    check_placement,
    registry_path,
    resolve_source,
)
from vokaflow.vicky.weights import weights_dir

if TYPE_CHECKING:
    import numpy as np

AnalysisType = Literal[
    "basic", "tempo", "energy", "spectral", "zcr", "mfcc", "pitch", "transcription"
]
# Transcription runs a model: only when asked for by name.
ANALYSIS_TYPES: tuple[AnalysisType, ...] = tuple(
    kind for kind in typing.get_args(AnalysisType) if kind != "transcription"
)
AudioFormat = Literal["wav", "flac", "ogg"]
SUFFIXES: dict[AudioFormat, tuple[str, ...]] = {
    "wav": (".wav",),
    "flac": (".flac",),
    "ogg": (".ogg", ".oga"),
}

MFCC_COEFFICIENTS = 13
PITCH_FMIN_HZ = 65.4  # C2: below the lowest sung or spoken fundamentals
PITCH_FMAX_HZ = 2093.0  # C7
PITCH_LOUD_FRAME_DB = -20.0  # frames this far below the loudest are left out of the pitch

WHISPER_SAMPLE_RATE = 16_000
WHISPER_CHUNK_S = 30  # Whisper's window: longer audio is cut into windows of this length
WHISPER_BATCH_CHUNKS = 8  # windows decoded together in one generate call


def _a_file(path: str) -> str:
    if not Path(path).is_file():
        raise ValueError(f"not a file: {path}")
    return path


AudioFile = Annotated[DataPath, AfterValidator(_a_file)]
LanguageCode = Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]  # as Whisper names them: en, es


# ---------------------------------------------------------------- reading and numbers


@dataclass
class Audio:
    samples: np.ndarray  # float32, shape (frames, channels)
    sample_rate: int
    format: str
    subtype: str

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])

    @property
    def frames(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate

    def mono(self) -> np.ndarray:
        return self.samples.mean(axis=1) if self.channels > 1 else self.samples[:, 0]


def read_audio(path: str | Path) -> Audio:
    """The whole file as float32 samples at its own rate; ValueError when it is no sound
    file that soundfile (libsndfile: wav, flac, ogg, mp3, aiff, ...) can read."""
    import soundfile as sf

    try:
        with sf.SoundFile(str(path)) as sound:
            samples = sound.read(dtype="float32", always_2d=True)
            return Audio(samples, int(sound.samplerate), sound.format, sound.subtype)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise ValueError(f"cannot read {path} as audio: {exc}") from None


def number(value: Any, digits: int = 4) -> float | None:
    """A plain, rounded float; None for NaN or infinity (which JSON has no word for)."""
    result = float(value)
    return round(result, digits) if math.isfinite(result) else None


# ---------------------------------------------------------------- analysis


def basic_summary(audio: Audio) -> dict[str, Any]:
    return {
        "duration_s": number(audio.duration_s),
        "sample_rate": audio.sample_rate,
        "channels": audio.channels,
        "frames": audio.frames,
        "format": audio.format,
        "subtype": audio.subtype,
    }


def tempo_summary(y: np.ndarray, sr: int) -> dict[str, Any]:
    import librosa
    import numpy as np

    tempo, beat_frames = librosa.beat.beat_track(y=y, sr=sr)
    beat_times = librosa.frames_to_time(beat_frames, sr=sr)
    return {
        # No beat, no tempo: librosa says 0 then.
        "tempo_bpm": number(np.atleast_1d(tempo)[0], 2) if len(beat_frames) else None,
        "beat_count": len(beat_frames),
        "beat_times_s": [number(t, 3) for t in beat_times],
    }


def energy_summary(y: np.ndarray, sr: int) -> dict[str, Any]:
    import librosa

    rms = librosa.feature.rms(y=y)[0]
    return {"rms_mean": number(rms.mean(), 6), "rms_max": number(rms.max(), 6)}


def spectral_summary(y: np.ndarray, sr: int) -> dict[str, Any]:
    import librosa
    import numpy as np

    magnitudes = np.abs(librosa.stft(y))
    centroid = librosa.feature.spectral_centroid(S=magnitudes, sr=sr)[0]
    bandwidth = librosa.feature.spectral_bandwidth(S=magnitudes, sr=sr)[0]
    return {
        "spectral_centroid_mean_hz": number(centroid.mean(), 2),
        "spectral_bandwidth_mean_hz": number(bandwidth.mean(), 2),
    }


def zcr_summary(y: np.ndarray, sr: int) -> dict[str, Any]:
    import librosa

    return {"zero_crossing_rate_mean": number(librosa.feature.zero_crossing_rate(y)[0].mean(), 6)}


def mfcc_summary(y: np.ndarray, sr: int) -> dict[str, Any]:
    import librosa

    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=MFCC_COEFFICIENTS)
    return {"mfcc_mean": [number(v) for v in mfcc.mean(axis=1)]}


def pitch_frame_length(sr: int, fmin: float = PITCH_FMIN_HZ) -> int:
    """A power of two holding at least four periods of the lowest pitch looked for (yin
    needs two in its window, which is half the frame)."""
    return max(2048, 2 ** math.ceil(math.log2(4 * sr / fmin)))


def pitch_summary(y: np.ndarray, sr: int) -> dict[str, Any]:
    """YIN per frame, median over the loud frames. pYIN would also tell voiced frames apart
    but costs about half a minute per minute of audio; YIN takes a second."""
    import librosa
    import numpy as np

    frame_length = pitch_frame_length(sr)
    hop_length = frame_length // 4
    fmax = min(PITCH_FMAX_HZ, sr / 4)
    if len(y) < frame_length or fmax <= PITCH_FMIN_HZ:
        return {"median_f0_hz": None, "frames_used": 0, "method": "yin"}
    f0 = librosa.yin(y, fmin=PITCH_FMIN_HZ, fmax=fmax, sr=sr, frame_length=frame_length)
    rms = librosa.feature.rms(y=y, frame_length=frame_length, hop_length=hop_length)[0]
    count = min(len(f0), len(rms))
    f0, rms = f0[:count], rms[:count]
    loud = rms >= max(rms.max() * 10 ** (PITCH_LOUD_FRAME_DB / 20), 1e-4)
    used = f0[loud]
    return {
        "median_f0_hz": number(np.median(used), 2) if used.size else None,
        "frames_used": int(used.size),
        "method": "yin",
    }


ANALYSES: dict[AnalysisType, Callable[[np.ndarray, int], dict[str, Any]]] = {
    "tempo": tempo_summary,
    "energy": energy_summary,
    "spectral": spectral_summary,
    "zcr": zcr_summary,
    "mfcc": mfcc_summary,
    "pitch": pitch_summary,
}


def analyse(audio: Audio, analysis_types: Iterable[AnalysisType]) -> dict[str, Any]:
    wanted = list(dict.fromkeys(analysis_types))  # in order, once each
    mono = audio.mono()
    result: dict[str, Any] = {}
    for done, kind in enumerate(wanted):
        report_progress(done / len(wanted), analysis=kind)
        if kind == "basic":
            result[kind] = basic_summary(audio)
        elif kind == "transcription":
            result[kind] = transcription_summary(audio, language=None)
        else:
            result[kind] = ANALYSES[kind](mono, audio.sample_rate)
    return result


@function(
    category="audio",
    worker_type=WorkerType.IO_INTENSIVE,
    description="Analyses a sound file: basic facts, tempo and beats, energy, spectral "
    "centroid and bandwidth, zero-crossing rate, MFCC means and pitch (all by default), "
    "and transcription when named",
    estimated_duration="10-60 seconds",
)
def audio_analysis(
    file_path: AudioFile,
    analysis_types: Annotated[list[AnalysisType], Field(min_length=1)] | None = None,
) -> dict[str, Any]:
    wanted = analysis_types or list(ANALYSIS_TYPES)
    audio = read_audio(file_path)
    return {"file_path": file_path, "analysis_types": wanted, **analyse(audio, wanted)}


# ---------------------------------------------------------------- conversion


def mix_channels(samples: np.ndarray, channels: int) -> np.ndarray:
    """Down to mono by averaging; mono up to stereo by copying; more than two channels down
    to stereo by keeping the first two (front left and right in WAV's channel order)."""
    import numpy as np

    have = samples.shape[1]
    if have == channels:
        return samples
    if channels == 1:
        return samples.mean(axis=1, keepdims=True)
    if have == 1:
        return np.repeat(samples, channels, axis=1)
    return samples[:, :channels]


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    import librosa

    if from_rate == to_rate or samples.shape[0] == 0:
        return samples
    return librosa.resample(
        samples, orig_sr=from_rate, target_sr=to_rate, res_type="soxr_hq", axis=0
    )


def output_subtype(audio_format: AudioFormat, source_subtype: str) -> str:
    """The source's sample encoding where the format can hold it, else the format's default
    (a float WAV becomes 16-bit FLAC, anything becomes Vorbis in OGG)."""
    import soundfile as sf

    container = audio_format.upper()
    if sf.check_format(container, source_subtype):
        return source_subtype
    return str(sf.default_subtype(container))


def check_suffix(path: str, audio_format: AudioFormat) -> None:
    suffix = Path(path).suffix.lower()
    if suffix and suffix not in SUFFIXES[audio_format]:
        raise ValueError(
            f"output_path ends in {suffix} but format is {audio_format!r}: "
            "name the format that the suffix says"
        )


def write_audio(
    path: str, samples: np.ndarray, rate: int, audio_format: AudioFormat, subtype: str
) -> None:
    import numpy as np
    import soundfile as sf

    if not subtype.startswith(("FLOAT", "DOUBLE")):
        # Resampling can overshoot full scale a little; integer encodings would wrap it.
        samples = np.clip(samples, -1.0, 1.0)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, samples, rate, format=audio_format.upper(), subtype=subtype)


@function(
    category="audio",
    worker_type=WorkerType.CPU_INTENSIVE,
    description="Converts a sound file to wav, flac or ogg, optionally resampling it and "
    "mixing it to mono or stereo",
    estimated_duration="1-30 seconds",
)
def audio_convert(
    file_path: AudioFile,
    output_path: OutputPath,
    sample_rate: Annotated[int, Field(ge=8000, le=192_000)] | None = None,
    channels: Literal[1, 2] | None = None,
    format: AudioFormat = "wav",
) -> dict[str, Any]:
    check_suffix(output_path, format)
    audio = read_audio(file_path)
    rate = sample_rate or audio.sample_rate
    samples = mix_channels(audio.samples, channels or audio.channels)
    samples = resample(samples, audio.sample_rate, rate)
    subtype = output_subtype(format, audio.subtype)
    write_audio(output_path, samples, rate, format, subtype)
    return {
        "output_path": output_path,
        "format": format,
        "subtype": subtype,
        "sample_rate": rate,
        "channels": int(samples.shape[1]),
        "frames": int(samples.shape[0]),
        "duration_s": number(samples.shape[0] / rate),
    }


# ---------------------------------------------------------------- transcription


@dataclass(frozen=True)
class SpeechModelSpec:
    """One entry of ``speech_models:``: ``source`` is a directory (relative to the repo
    root, or absolute) or a hub id found in the local hub cache; never downloaded."""

    model_id: str
    source: str
    device: str = "auto"  # auto: cuda when available
    dtype: str = "auto"  # auto: float16 on cuda, float32 on cpu

    def __post_init__(self) -> None:
        check_placement(self.model_id, self.device, self.dtype)


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
        data["source"] = resolve_source(str(data["source"]), root)
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


@dataclass
class Whisper:
    processor: Any
    model: Any
    device: Any
    dtype: Any


@functools.cache
def load_whisper(spec: SpeechModelSpec) -> Whisper:
    """Processor and weights, loaded once per worker process and kept."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import WhisperForConditionalGeneration, WhisperProcessor
    from transformers.utils import logging as transformers_logging

    from vokaflow.vicky.loader import resolve_device, resolve_dtype  # imports torch

    transformers_logging.disable_progress_bar()
    directory = weights_dir(ModelSpec(model_id=spec.model_id, source=spec.source))
    device = resolve_device(spec.device)
    dtype = resolve_dtype(
        "float16" if spec.dtype == "auto" and device.type == "cuda" else spec.dtype, device
    )
    processor = WhisperProcessor.from_pretrained(directory, local_files_only=True)
    model: Any = WhisperForConditionalGeneration.from_pretrained(directory, local_files_only=True)
    model.to(device=device, dtype=dtype).eval()
    return Whisper(processor, model, device, dtype)


def chunks(items: Any, size: int) -> list[Any]:
    """``items`` (a list or an array) in consecutive slices of ``size``; the last may be short."""
    return [items[start : start + size] for start in range(0, len(items), size)]


def is_multilingual(whisper: Whisper) -> bool:
    config = whisper.model.generation_config
    return bool(getattr(config, "is_multilingual", False) and getattr(config, "lang_to_id", None))


def language_of(whisper: Whisper, features: Any, language: str | None) -> str:
    """The language code to transcribe in: the one asked for, else the one Whisper hears
    in the first window (as openai-whisper does); English for an English-only model."""
    if not is_multilingual(whisper):
        if language not in (None, "en"):
            raise ValueError(f"this model transcribes English only, not {language!r}")
        return "en"
    lang_to_id: dict[str, int] = whisper.model.generation_config.lang_to_id
    if language is not None:
        if f"<|{language}|>" not in lang_to_id:
            codes = ", ".join(sorted(token.strip("<|>") for token in lang_to_id))
            raise ValueError(f"unknown language {language!r}; this model knows: {codes}")
        return language
    detected = whisper.model.detect_language(input_features=features[:1])
    token = whisper.processor.tokenizer.convert_ids_to_tokens(int(detected[0]))
    return str(token).strip("<|>")


def transcribe(whisper: Whisper, samples: np.ndarray, language: str | None) -> tuple[str, str]:
    """The text of 16 kHz mono samples, decoded window by window, and its language code."""
    import torch

    windows = chunks(samples, WHISPER_CHUNK_S * WHISPER_SAMPLE_RATE)
    batches = chunks(windows, WHISPER_BATCH_CHUNKS)
    texts: list[str] = []
    heard = ""
    for done, batch in enumerate(batches, start=1):
        features = whisper.processor(
            batch, sampling_rate=WHISPER_SAMPLE_RATE, return_tensors="pt"
        ).input_features.to(whisper.device, whisper.dtype)
        with torch.inference_mode():
            heard = heard or language_of(whisper, features, language)
            # An English-only model (whisper-*.en) refuses a task or language argument.
            options = {"task": "transcribe", "language": heard} if is_multilingual(whisper) else {}
            tokens = whisper.model.generate(features, **options)
        texts += whisper.processor.batch_decode(tokens, skip_special_tokens=True)
        report_progress(done / len(batches), windows=len(windows))
    return " ".join(t.strip() for t in texts if t.strip()), heard


@function(
    category="audio",
    worker_type=WorkerType.IO_INTENSIVE,
    description="Transcribes speech in a sound file with the Whisper model that the "
    "transcription_model setting names in models/registry.yaml; language: a code such as "
    "'en' or 'es', detected when left out",
    estimated_duration="5-120 seconds",
)
def audio_transcription(
    file_path: AudioFile, language: LanguageCode | None = None
) -> dict[str, Any]:
    return transcription_summary(read_audio(file_path), language)


def transcription_summary(audio: Audio, language: str | None) -> dict[str, Any]:
    spec = speech_model(current_settings().transcription_model)
    samples = resample(audio.mono()[:, None], audio.sample_rate, WHISPER_SAMPLE_RATE)[:, 0]
    whisper = load_whisper(spec)
    text, heard = transcribe(whisper, samples, language) if samples.size else ("", language)
    return {
        "text": text,
        "language": heard,
        "model": spec.model_id,
        "duration_s": number(audio.duration_s),
    }
