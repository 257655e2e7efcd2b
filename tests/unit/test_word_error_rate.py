"""The word error rate that the speech tests and benchmark hold transcripts to."""

from __future__ import annotations

import pytest

from vokaflow.testing.speech import edit_distance, normalized_words, word_error_rate


def test_words_are_lowercased_and_stripped_of_punctuation():
    assert normalized_words("Please send it, by Friday!  Don't wait.") == [
        "please",
        "send",
        "it",
        "by",
        "friday",
        "dont",
        "wait",
    ]


def test_the_same_words_in_another_case_and_punctuation_have_no_error():
    assert word_error_rate("The quick brown fox.", "the quick, brown fox") == 0.0


@pytest.mark.parametrize(
    ("hypothesis", "edits"),
    [
        ("the quick red fox", 1),  # one substitution
        ("the quick fox", 1),  # one deletion
        ("the very quick brown fox", 1),  # one insertion
        ("quick the brown fox", 2),  # a swap is two edits
        ("", 4),
    ],
)
def test_each_substitution_deletion_and_insertion_is_one_edit(hypothesis: str, edits: int):
    assert edit_distance(["the", "quick", "brown", "fox"], hypothesis.split()) == edits
    assert word_error_rate("the quick brown fox", hypothesis) == edits / 4


def test_the_rate_may_pass_one_when_words_are_added_and_an_empty_reference_is_zero_or_one():
    assert word_error_rate("yes", "no no no") == 3.0
    assert word_error_rate("", "") == 0.0
    assert word_error_rate("", "something") == 1.0
