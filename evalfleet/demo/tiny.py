"""Tiny checkpoints for the demo and the tests: random weights, a real trained tokenizer.

Nothing is downloaded: the tokenizer is a byte-level BPE trained with `tokenizers` on a small
built-in corpus, the model is a transformers architecture of the named family with a few
thousand parameters, saved with `save_pretrained` in the Hugging Face layout any backend loads.
"""

from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|pad|>", "<|user|>", "<|assistant|>", "<|system|>", "<|end|>"]
FAMILIES = ("llama", "qwen2", "phi")

_CORPUS = [
    "Question: Janet has 3 apples and buys 4 more. How many apples does she have? Answer: 7",
    "Let's think step by step. The answer is 42. So the answer is B.",
    "Complete the following python code:\ndef add(a, b):\n    return a + b\n",
    "Context: The river flows north. Question: Which way does the river flow? Answer: north",
    "A B C D E F G 0 1 2 3 4 5 6 7 8 9 + - * / = ( ) [ ] { } : ; , . ? ! ' \" \\boxed{}",
    "选项 答案 成语 这是 一个 问题",
]


def train_tokenizer(vocab_size: int = 512):
    """A byte-level BPE tokenizer (transformers' PreTrainedTokenizerFast) with a chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 20, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|pad|>", bos_token="<|endoftext|>"
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def model_config(
    family: str, vocab_size: int, *, hidden: int = 32, layers: int = 2, heads: int = 4, max_positions: int = 2048
):
    """A transformers config of the given family, tiny (`max_positions`: context length in tokens)."""
    from transformers import LlamaConfig, PhiConfig, Qwen2Config

    common = dict(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        max_position_embeddings=max_positions,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=1,
        tie_word_embeddings=False,
    )
    if family == "llama":
        return LlamaConfig(num_key_value_heads=heads // 2, **common)
    if family == "qwen2":
        return Qwen2Config(num_key_value_heads=heads // 2, **common)
    if family == "phi":
        return PhiConfig(**common)
    raise ValueError(f"unknown tiny family {family!r} (known: {FAMILIES})")


def build_tiny_model(
    path: str | Path, *, family: str = "llama", seed: int = 0, dtype: str = "float32", **sizes
) -> Path:
    """Write a tiny random-weight checkpoint of `family` to `path` (created) and return it."""
    import torch
    from transformers import AutoModelForCausalLM

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer()
    torch.manual_seed(seed)
    config = model_config(family, len(tokenizer), **sizes)
    model = AutoModelForCausalLM.from_config(config)
    model = model.to(getattr(torch, dtype))
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
