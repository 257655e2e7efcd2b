"""``audio`` functions: features of a sound file (librosa), speech to text with a Whisper
model named in the ``speech_models:`` section of models/registry.yaml (vokaflow.functions
.speech: faster-whisper, or transformers), and conversion between sample rates, channel
counts and formats (soundfile).

Files are read with soundfile at their own sample rate; librosa, numpy and the speech
engines are imported inside the functions, so importing this module stays cheap."""

from __future__ import annotations

import math
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, Field

from vokaflow.domain import WorkerType
from vokaflow.functions.context import current_settings, report_progress
from vokaflow.functions.data_roots import DataPath, OutputPath
from vokaflow.functions.registry import function
from vokaflow.functions.speech import (
    SAMPLE_RATE,
    Transcript,
    check_language,
    load_speech_model,
    speech_model,
)

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


@function(
    category="audio",
    worker_type=WorkerType.IO_INTENSIVE,
    description="Transcribes speech in a sound file with the Whisper model that the "
    "transcription_model setting names in models/registry.yaml (by default Whisper tiny.en "
    "on faster-whisper); the text, its language and timed segments; language: a code such "
    "as 'en' or 'es', detected when left out",
    estimated_duration="5-120 seconds",
)
def audio_transcription(
    file_path: AudioFile, language: LanguageCode | None = None
) -> dict[str, Any]:
    return transcription_summary(read_audio(file_path), language)


def transcription_summary(audio: Audio, language: str | None) -> dict[str, Any]:
    spec = speech_model(current_settings().transcription_model)
    model = load_speech_model(spec)
    samples = resample(audio.mono()[:, None], audio.sample_rate, SAMPLE_RATE)[:, 0]
    if samples.size:
        transcript = model.transcribe(samples, language)
    else:
        check_language(model, language)
        transcript = Transcript("", language, ())
    return {
        "text": transcript.text,
        "language": transcript.language,
        "model": spec.model_id,
        "engine": model.engine,
        "duration_s": number(audio.duration_s),
        "segments": [{"start": s.start, "end": s.end, "text": s.text} for s in transcript.segments],
    }
