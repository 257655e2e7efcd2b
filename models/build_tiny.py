"""Build a tiny Qwen2-architecture chat model and its tokenizer locally, with no hub access.

The weights are random (fixed seed), so its text is gibberish: it exists to exercise the same
loading, batching, streaming and training paths as a real Qwen model, on CPU, in seconds.

    python -m models.build_tiny [--out DIR]
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
VOCAB_SIZE = 1536
SEED = 1234

# Same shape as Qwen2.5's template, without its default system prompt.
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

_SUBJECTS_EN = ["The task", "Vicky", "The worker", "The queue", "A user", "The model", "The batch"]
_VERBS_EN = ["finished", "started", "was retried", "is waiting", "failed", "was cancelled"]
_TAILS_EN = [
    "after two seconds.",
    "because the rate limit was reached.",
    "on the urgent queue.",
    "and the webhook was sent.",
    "while the cluster was busy.",
]
_SUBJECTS_ES = ["La tarea", "Vicky", "El trabajador", "La cola", "Un usuario", "El modelo"]
_VERBS_ES = ["terminó", "empezó", "se reintentó", "está esperando", "falló", "se canceló"]
_TAILS_ES = [
    "después de dos segundos.",
    "porque se alcanzó el límite.",
    "en la cola urgente.",
    "y se envió el webhook.",
    "mientras el clúster estaba ocupado.",
]


def _words(text: str) -> list[str]:
    return text.split()


_WORDS_EN = _words(
    "time person year way day thing man world life hand part child eye woman place work week "
    "case point government company number group problem fact question service request server "
    "network message answer language translation voice sound music memory storage database "
    "priority deadline schedule minute hour second morning evening night weather city country "
    "kitchen garden window door table chair book letter paper picture story history science "
    "health money market price ticket travel airport station train river mountain ocean island"
)
_ADJ_EN = _words(
    "good new first last long great little own other old right big high different small large "
    "next early young important few public bad same able quick slow happy busy quiet bright "
    "dark warm cold simple strange careful"
)
_WORDS_ES = _words(
    "tiempo persona año camino día cosa hombre mundo vida mano parte niño ojo mujer lugar trabajo "
    "semana caso punto gobierno empresa número grupo problema pregunta servicio petición servidor "
    "red mensaje respuesta idioma traducción voz sonido música memoria almacenamiento prioridad "
    "plazo horario minuto hora mañana tarde noche ciudad país cocina jardín ventana puerta mesa "
    "silla libro carta papel imagen historia ciencia salud dinero mercado precio billete viaje "
    "aeropuerto estación tren río montaña océano isla"
)
_ADJ_ES = _words(
    "bueno nuevo primero último largo grande pequeño propio otro viejo correcto alto diferente "
    "importante público malo mismo capaz rápido lento feliz ocupado tranquilo claro oscuro "
    "caliente frío simple extraño cuidadoso"
)
_EXTRA = [
    "Hello! How can I help you today?",
    "¡Hola! ¿En qué puedo ayudarte hoy?",
    "Translate this sentence into Spanish, please.",
    "Traduce esta frase al inglés, por favor.",
    "You are Vicky, the assistant of VokaFlow.",
    "Eres Vicky, la asistente de VokaFlow.",
    "Numbers: 0 1 2 3 4 5 6 7 8 9 10 100 1000.",
    "Ñandú, pingüino, acción, corazón, camión: ñ ü á é í ó ú ¿ ¡ € 😀",
]


def corpus() -> list[str]:
    """A few hundred English and Spanish sentences, generated deterministically."""
    english = itertools.product(_SUBJECTS_EN, _VERBS_EN, _TAILS_EN)
    spanish = itertools.product(_SUBJECTS_ES, _VERBS_ES, _TAILS_ES)
    lines = [" ".join(parts) for parts in itertools.chain(english, spanish)]
    for i, (noun_en, noun_es) in enumerate(zip(_WORDS_EN, _WORDS_ES, strict=False)):
        adj_en, adj_es = _ADJ_EN[i % len(_ADJ_EN)], _ADJ_ES[i % len(_ADJ_ES)]
        lines.append(f"The {adj_en} {noun_en} is on the {noun_en} list, number {i * 37}.")
        lines.append(f"El {noun_es} {adj_es} está en la lista de {noun_es}, número {i * 37}.")
        lines.append(f"Why is the {noun_en} so {adj_en}? ¿Por qué es tan {adj_es}?")
    return lines + _EXTRA


def build_tokenizer():  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>", "<|im_end|>"],
        clean_up_tokenization_spaces=False,
        model_max_length=512,
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_model(vocab_size: int, pad_id: int, eos_id: int):  # type: ignore[no-untyped-def]
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        # Larger than Qwen's 0.02 so random logits are peaked: greedy picks are not near-ties
        # that float noise (padding, batching) could flip.
        initializer_range=0.2,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
    )
    torch.manual_seed(SEED)
    model = Qwen2ForCausalLM(config).eval()
    model.generation_config = GenerationConfig(eos_token_id=eos_id, pad_token_id=pad_id)
    return model


def build(out: Path) -> Path:
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    tokenizer = build_tokenizer()
    model = build_model(len(tokenizer), tokenizer.pad_token_id, tokenizer.eos_token_id)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(out)
    model.save_pretrained(out)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "tiny")
    args = parser.parse_args(argv)
    print(f"tiny model written to {build(args.out)}")


if __name__ == "__main__":
    main()
