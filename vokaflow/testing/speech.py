"""Real speech for tests and benchmarks: sentences spoken by espeak-ng into WAV files, and
the word error rate of a transcript against what was said."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

ESPEAK = "espeak-ng"
# tiny.en hears espeak's American voice better than its default British one: over SENTENCES,
# a word error rate of 0.15 against 0.30 (measured with the default speech model).
VOICE = "en-us"
# Words a minute, a little slower than espeak's 175. CTranslate2's int8 kernels differ with
# the CPU, and so does what tiny.en hears: on one machine, at 175, "The quick brown fox" came
# back as "The quick round-fark stump" (0.44 of its words wrong, 0.175 over SENTENCES); at
# 140, 0.11 and 0.075 over SENTENCES.
WORDS_PER_MINUTE = 140
# What the tests allow: over SENTENCES, a quarter of the words wrong; in one sentence alone,
# where two words of eight decide it (espeak's "by Friday" heard as "I Friday"), more.
MAX_WORD_ERROR_RATE = 0.25
MAX_WORD_ERROR_RATE_ONE_SENTENCE = 0.4
SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "Please send the quarterly report by Friday.",
    "We will meet in the main office at nine tomorrow morning.",
    "The weather today is cold and windy with some rain in the evening.",
)
# About 50 s of speech at WORDS_PER_MINUTE, for the benchmark.
PASSAGE = (
    "Every morning the team meets for a short review of the work in progress. "
    "Each person says what they finished yesterday, what they plan to do today, "
    "and whether anything is in their way. The meeting should take no more than fifteen "
    "minutes. After it, the project manager writes a summary and sends it to everyone. "
    "On Fridays there is a longer meeting to plan the next week. The team looks at the "
    "list of open tasks, decides which ones matter most, and gives each of them an owner. "
    "Customers can follow the progress on a public board that is updated every evening. "
    "When a problem is found, the person who found it writes a short report with the steps "
    "to repeat it, and the team decides how soon it must be fixed."
)


def espeak_available() -> bool:
    return shutil.which(ESPEAK) is not None


def speak(text: str, path: Path) -> Path:
    """``text`` spoken by espeak-ng's American English voice, as a 22,050 Hz mono WAV."""
    command = [ESPEAK, "-v", VOICE, "-s", str(WORDS_PER_MINUTE), "-w", str(path), text]
    subprocess.run(command, check=True, capture_output=True)
    return path


def normalized_words(text: str) -> list[str]:
    """Lowercase words without punctuation ("Friday." and "friday" are the same word)."""
    return re.sub(r"[^\w\s']", " ", text.lower()).replace("'", "").split()


def edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Word-level Levenshtein distance: substitutions, deletions and insertions."""
    previous = list(range(len(hypothesis) + 1))
    for i, word in enumerate(reference, start=1):
        current = [i]
        for j, heard in enumerate(hypothesis, start=1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (word != heard))
            )
        previous = current
    return previous[-1]


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Edits needed to turn the reference's words into the hypothesis's, per reference word."""
    expected, heard = normalized_words(reference), normalized_words(hypothesis)
    if not expected:
        return 0.0 if not heard else 1.0
    return edit_distance(expected, heard) / len(expected)
