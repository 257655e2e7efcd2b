"""Batched, streamed and chat-templated generation on a LoadedModel.

One call to `generate_batch` runs every request through a single left-padded forward pass per
token, sharing the KV cache, so a Serve replica that gathers concurrent requests (@serve.batch)
does one model step per token for all of them instead of one per request.
"""

from __future__ import annotations

import inspect
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from vokaflow.vicky.loader import LoadedModel


class PromptTooLong(ValueError):
    pass


@dataclass(frozen=True)
class GenerationRequest:
    prompt_ids: list[int]
    max_new_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None

    def __post_init__(self) -> None:
        if not self.prompt_ids:
            raise ValueError("prompt_ids must not be empty")
        if self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be >= 1")
        if self.temperature < 0:
            raise ValueError("temperature must be >= 0")
        if not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")
        if self.seed is not None and not 0 <= self.seed < 2**63:
            raise ValueError("seed must be between 0 and 2**63 - 1")


@dataclass(frozen=True)
class GenerationResult:
    """`token_ids` are all generated tokens, a final stop token included; `text` leaves special
    tokens out. `confidence` is the mean probability of the generated tokens under the
    distribution they were drawn from (after temperature and top_p; the untempered softmax when
    greedy). `finish_reason` is "stop" (a stop token) or "length" (the token limit)."""

    token_ids: list[int]
    text: str
    prompt_tokens: int
    completion_tokens: int
    confidence: float
    finish_reason: str


def generate_batch(
    loaded: LoadedModel, requests: list[GenerationRequest]
) -> list[GenerationResult]:
    """Generate for all requests together, in chunks of at most the spec's max_batch_size."""
    size = loaded.spec.max_batch_size
    results: list[GenerationResult] = []
    for start in range(0, len(requests), size):
        decoder = _BatchDecoder(loaded, requests[start : start + size])
        for _ in decoder.steps():
            pass
        results.extend(decoder.results())
    return results


class TextStream(Iterator[str]):
    """Text deltas as tokens are produced; `result` holds the GenerationResult once exhausted."""

    def __init__(self, loaded: LoadedModel, request: GenerationRequest) -> None:
        self.result: GenerationResult | None = None
        self._decoder = _BatchDecoder(loaded, [request])
        self._deltas = self._run()

    def __next__(self) -> str:
        return next(self._deltas)

    def _run(self) -> Iterator[str]:
        text = IncrementalDecoder(self._decoder.tokenizer)
        for _ in self._decoder.steps():
            delta = text.push(self._decoder.tokens[0])
            if delta:
                yield delta
        rest = text.flush()
        if rest:
            yield rest
        self.result = self._decoder.results()[0]


class IncrementalDecoder:
    """Turns a growing token list into text deltas that never split a character.

    Decodes a window that starts one delta back, so tokenizers that mark word starts
    (SentencePiece) keep their spaces, and holds text back while it ends in a partial
    character (U+FFFD) until later tokens complete it.
    """

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.tokens: list[int] = []
        self.prefix = 0
        self.read = 0

    def push(self, tokens: list[int]) -> str:
        """The new text once `tokens` (the whole sequence so far) is decoded; may be ''."""
        self.tokens = tokens
        prefix_text = self._decode(tokens[self.prefix : self.read])
        new_text = self._decode(tokens[self.prefix :])
        if len(new_text) > len(prefix_text) and not new_text.endswith("\ufffd"):
            self.prefix, self.read = self.read, len(tokens)
            return new_text[len(prefix_text) :]
        return ""

    def flush(self) -> str:
        """Whatever is held back, partial characters decoded as U+FFFD."""
        prefix_text = self._decode(self.tokens[self.prefix : self.read])
        rest = self._decode(self.tokens[self.prefix :])[len(prefix_text) :]
        self.prefix = self.read = len(self.tokens)
        return rest

    def _decode(self, tokens: list[int]) -> str:
        return str(self.tokenizer.decode(tokens, skip_special_tokens=True))


def stream_generate(loaded: LoadedModel, request: GenerationRequest) -> TextStream:
    return TextStream(loaded, request)


def prompt_ids(loaded: LoadedModel, text: str, system_prompt: str | None = None) -> list[int]:
    """A single-turn chat prompt (optional system message, then the user's text)."""
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    messages.append({"role": "user", "content": text})
    return render_chat(loaded, messages)


def render_chat(loaded: LoadedModel, messages: list[dict[str, Any]]) -> list[int]:
    text = loaded.tokenizer.apply_chat_template(
        messages,
        tokenize=False,
        add_generation_prompt=True,
        chat_template=loaded.spec.chat_template,
    )
    return encode(loaded, text)


def encode(loaded: LoadedModel, text: str) -> list[int]:
    return list(loaded.tokenizer(text, add_special_tokens=False)["input_ids"])


def count_tokens(loaded: LoadedModel, text: str) -> int:
    return len(encode(loaded, text))


def chat_prompt_ids(
    loaded: LoadedModel, messages: list[dict[str, Any]], max_new_tokens: int
) -> tuple[list[int], list[dict[str, Any]]]:
    """The chat's prompt ids and the messages kept, dropping the oldest messages other than
    system ones and the last user message until prompt + max_new_tokens fits the window."""
    budget = loaded.spec.context_window - min(max_new_tokens, loaded.spec.max_new_tokens)
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    droppable = [i for i, m in enumerate(messages) if m.get("role") != "system" and i != last_user]

    def without_first(k: int) -> list[dict[str, Any]]:
        dropped = set(droppable[:k])
        return [m for i, m in enumerate(messages) if i not in dropped]

    ids = render_chat(loaded, messages)
    if len(ids) <= budget:
        return ids, list(messages)
    # Fewest drops that fit: dropping more never lengthens the prompt, so bisect.
    low, high = 1, len(droppable)
    best: tuple[list[int], list[dict[str, Any]]] | None = None
    while low <= high:
        mid = (low + high) // 2
        kept = without_first(mid)
        ids = render_chat(loaded, kept)
        if len(ids) <= budget:
            best, high = (ids, kept), mid - 1
        else:
            low = mid + 1
    if best is None:
        raise PromptTooLong(
            f"the system prompt and last user message alone take more than {budget} tokens "
            f"({loaded.spec.context_window}-token window, {max_new_tokens} new tokens)"
        )
    return best


class _BatchDecoder:
    """One left-padded batch decoded token by token with a shared KV cache."""

    def __init__(self, loaded: LoadedModel, requests: list[GenerationRequest]) -> None:
        spec = loaded.spec
        for r in requests:
            if len(r.prompt_ids) >= spec.context_window:
                raise PromptTooLong(
                    f"prompt of {len(r.prompt_ids)} tokens does not fit the "
                    f"{spec.context_window}-token window of {spec.model_id}"
                )
        self.loaded = loaded
        self.tokenizer = loaded.tokenizer
        self.requests = requests
        self.limits = [
            min(r.max_new_tokens, spec.max_new_tokens, spec.context_window - len(r.prompt_ids))
            for r in requests
        ]
        self.tokens: list[list[int]] = [[] for _ in requests]
        self.probs: list[list[float]] = [[] for _ in requests]
        self.finish: list[str | None] = [None for _ in requests]
        self.sampler = _Sampler(requests, loaded.device)

    @torch.inference_mode()
    def steps(self) -> Iterator[None]:
        """Runs one model step per iteration, appending each unfinished row's new token."""
        model, device = self.loaded.model, self.loaded.device
        cache_arg = _cache_argument(model)
        input_ids, mask = self._left_pad()
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        out = model(
            input_ids=input_ids,
            attention_mask=mask,
            position_ids=positions,
            use_cache=True,
            **_last_logits_only(model),
        )
        next_pos = mask.sum(-1, keepdim=True)
        while True:
            next_ids = self._advance(out.logits[:, -1, :])
            yield None
            if all(f is not None for f in self.finish):
                return
            mask = torch.cat([mask, mask.new_ones((len(self.requests), 1))], dim=-1)
            out = model(
                input_ids=torch.tensor(next_ids, device=device).unsqueeze(-1),
                attention_mask=mask,
                position_ids=next_pos,
                use_cache=True,
                **{cache_arg: getattr(out, cache_arg)},
            )
            next_pos = next_pos + 1

    def _left_pad(self) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(r.prompt_ids) for r in self.requests)
        pad = self.loaded.pad_token_id
        ids = [[pad] * (width - len(r.prompt_ids)) + r.prompt_ids for r in self.requests]
        mask = [[0] * (width - len(r.prompt_ids)) + [1] * len(r.prompt_ids) for r in self.requests]
        device = self.loaded.device
        return torch.tensor(ids, device=device), torch.tensor(mask, device=device)

    def _advance(self, logits: torch.Tensor) -> list[int]:
        chosen, probs = self.sampler.sample(logits)
        next_ids = []
        for i, (token, prob) in enumerate(zip(chosen.tolist(), probs.tolist(), strict=True)):
            if self.finish[i] is not None:
                next_ids.append(self.loaded.pad_token_id)  # finished rows ride along, ignored
                continue
            self.tokens[i].append(token)
            self.probs[i].append(prob)
            if token in self.loaded.stop_token_ids:
                self.finish[i] = "stop"
            elif len(self.tokens[i]) >= self.limits[i]:
                self.finish[i] = "length"
            next_ids.append(token)
        return next_ids

    def results(self) -> list[GenerationResult]:
        return [
            GenerationResult(
                token_ids=tokens,
                text=self.tokenizer.decode(tokens, skip_special_tokens=True),
                prompt_tokens=len(r.prompt_ids),
                completion_tokens=len(tokens),
                confidence=sum(probs) / len(probs),
                finish_reason=finish or "length",
            )
            for r, tokens, probs, finish in zip(
                self.requests, self.tokens, self.probs, self.finish, strict=True
            )
        ]


@dataclass
class _Sampler:
    """Per-row temperature, top_p and seed, applied to a whole batch of logits at once."""

    requests: list[GenerationRequest]
    device: torch.device
    generators: list[torch.Generator] = field(init=False)

    def __post_init__(self) -> None:
        self.temperature = torch.tensor([r.temperature for r in self.requests], device=self.device)
        self.top_p = torch.tensor([r.top_p for r in self.requests], device=self.device)
        self.greedy = self.temperature == 0
        # A CPU generator per row: a seeded request draws the same tokens whatever its batch.
        self.generators = [
            torch.Generator().manual_seed(secrets.randbits(63) if r.seed is None else r.seed)
            for r in self.requests
        ]

    def sample(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = logits.float()
        greedy_ids = logits.argmax(-1)
        greedy_probs = logits.softmax(-1).gather(-1, greedy_ids.unsqueeze(-1)).squeeze(-1)
        if bool(self.greedy.all()):
            return greedy_ids, greedy_probs
        temperature = torch.where(self.greedy, torch.ones_like(self.temperature), self.temperature)
        probs = (logits / temperature.unsqueeze(-1)).softmax(-1)
        sorted_probs, sorted_ids = probs.sort(-1, descending=True)
        # Keep the smallest prefix whose mass reaches top_p (always at least the top token).
        before = sorted_probs.cumsum(-1) - sorted_probs
        outside = before >= self.top_p.unsqueeze(-1)
        outside[..., 0] = False  # a top_p below float32's smallest value still keeps one
        sorted_probs = sorted_probs.masked_fill(outside, 0.0)
        sorted_probs = sorted_probs / sorted_probs.sum(-1, keepdim=True)
        draws = torch.stack([torch.rand((), generator=g) for g in self.generators])
        cdf = sorted_probs.cumsum(-1)
        picks = torch.searchsorted(cdf, draws.to(cdf.device).unsqueeze(-1))
        kept = (sorted_probs > 0).sum(-1, keepdim=True)
        picks = torch.minimum(picks, kept - 1)
        sampled_ids = sorted_ids.gather(-1, picks).squeeze(-1)
        sampled_probs = sorted_probs.gather(-1, picks).squeeze(-1)
        return (
            torch.where(self.greedy, greedy_ids, sampled_ids),
            torch.where(self.greedy, greedy_probs, sampled_probs),
        )


def _cache_argument(model: Any) -> str:
    """The KV cache's name in forward() and its output: `cache` from transformers 5.24 on."""
    params = inspect.signature(model.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def _last_logits_only(model: Any) -> dict[str, int]:
    """Ask the prefill for the last position's logits only, where the model supports it."""
    params = inspect.signature(model.forward).parameters
    for name in ("logits_to_keep", "num_logits_to_keep"):
        if name in params:
            return {name: 1}
    return {}
