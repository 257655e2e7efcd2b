"""Build a tiny Whisper-architecture speech model, its feature extractor and tokenizer locally,
with no hub access.

The weights are random (fixed seed), so its transcripts are gibberish: it exists to exercise
the same loading, feature extraction, language handling and generation paths as a real
``openai/whisper-*`` model, on CPU, in seconds. The special tokens are laid out as in Whisper
(``<|endoftext|>``, ``<|startoftranscript|>``, one token per language, the task tokens,
``<|notimestamps|>``); timestamp tokens are left out.

    python -m models.build_tiny_whisper [--out DIR]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from models.build_tiny import corpus

BASE_VOCAB_SIZE = 1024
SEED = 1234
SAMPLING_RATE = 16_000
MAX_TARGET_POSITIONS = 448
# Random weights rarely say <|endoftext|>: a short cap keeps a transcript (of gibberish) quick.
MAX_GENERATED_LENGTH = 24
TASKS = ("translate", "transcribe")


def language_codes() -> list[str]:
    """Whisper's language codes in its token order (en, zh, de, es, ...)."""
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    return list(LANGUAGES)


def special_tokens() -> list[str]:
    """After the text vocabulary, in Whisper's order: the id arithmetic in transformers'
    Whisper generation (no-speech token = <|notimestamps|> - 1) relies on it."""
    return [
        "<|startoftranscript|>",
        *(f"<|{code}|>" for code in language_codes()),
        "<|translate|>",
        "<|transcribe|>",
        "<|startoflm|>",
        "<|startofprev|>",
        "<|nocaptions|>",
        "<|notimestamps|>",
    ]


def _byte_level_bpe() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """A byte-level BPE vocabulary and its merges trained on the tiny corpus, with
    <|endoftext|> as its last entry (as in GPT-2 and Whisper)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=BASE_VOCAB_SIZE - 1,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus(), trainer=trainer)
    model = json.loads(tok.to_str())["model"]
    vocab: dict[str, int] = dict(model["vocab"])
    vocab["<|endoftext|>"] = len(vocab)
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return vocab, merges  # type: ignore[return-value]


def build_tokenizer():  # type: ignore[no-untyped-def]
    from tokenizers import AddedToken
    from transformers import WhisperTokenizer

    vocab, merges = _byte_level_bpe()
    tokenizer = WhisperTokenizer(vocab=vocab, merges=merges, model_max_length=1024)
    tokenizer.add_tokens(
        [AddedToken(t, normalized=False, special=True) for t in special_tokens()],
        special_tokens=True,
    )
    tokenizer.set_prefix_tokens(language="en", task="transcribe", predict_timestamps=False)
    return tokenizer


def build_feature_extractor():  # type: ignore[no-untyped-def]
    from transformers import WhisperFeatureExtractor

    return WhisperFeatureExtractor(
        feature_size=80, sampling_rate=SAMPLING_RATE, hop_length=160, chunk_length=30, n_fft=400
    )


def build_generation_config(tokenizer):  # type: ignore[no-untyped-def]
    from transformers import GenerationConfig

    def token_id(token: str) -> int:
        return int(tokenizer.convert_tokens_to_ids(token))

    eos = token_id("<|endoftext|>")
    return GenerationConfig(
        decoder_start_token_id=token_id("<|startoftranscript|>"),
        bos_token_id=eos,
        eos_token_id=eos,
        pad_token_id=eos,
        max_length=MAX_GENERATED_LENGTH,
        is_multilingual=True,
        lang_to_id={f"<|{c}|>": token_id(f"<|{c}|>") for c in language_codes()},
        task_to_id={task: token_id(f"<|{task}|>") for task in TASKS},
        no_timestamps_token_id=token_id("<|notimestamps|>"),
        prev_sot_token_id=token_id("<|startofprev|>"),
        # Whisper never starts a transcript with a blank or the end.
        begin_suppress_tokens=[token_id("Ġ"), eos],
        suppress_tokens=[],
    )


def build_model(tokenizer):  # type: ignore[no-untyped-def]
    import torch
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    eos = int(tokenizer.convert_tokens_to_ids("<|endoftext|>"))
    config = WhisperConfig(
        vocab_size=len(tokenizer),
        num_mel_bins=80,
        d_model=64,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=128,
        decoder_ffn_dim=128,
        max_source_positions=1500,  # 30 s of 10 ms mel frames, halved by the conv stem
        max_target_positions=MAX_TARGET_POSITIONS,
        decoder_start_token_id=int(tokenizer.convert_tokens_to_ids("<|startoftranscript|>")),
        bos_token_id=eos,
        eos_token_id=eos,
        pad_token_id=eos,
    )
    torch.manual_seed(SEED)
    model = WhisperForConditionalGeneration(config).eval()
    model.generation_config = build_generation_config(tokenizer)
    return model


def build(out: Path) -> Path:
    from transformers import WhisperProcessor
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    tokenizer = build_tokenizer()
    processor = WhisperProcessor(feature_extractor=build_feature_extractor(), tokenizer=tokenizer)
    model = build_model(tokenizer)
    out.mkdir(parents=True, exist_ok=True)
    processor.save_pretrained(out)
    model.save_pretrained(out)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "whisper-tiny")
    args = parser.parse_args(argv)
    print(f"tiny Whisper model written to {build(args.out)}")


if __name__ == "__main__":
    main()
