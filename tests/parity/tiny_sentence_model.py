"""A tiny sentence-transformers model directory, built offline: the stand-in for all-mpnet-base-v2 in T-Eval's
embedding parity (tests/parity/test_parity_teval_embedding.py).

    build_tiny_sentence_model(dest, corpus, seed=0) -> dest

The directory has all-mpnet-base-v2's layout — modules Transformer → Pooling (mean of the token embeddings)
→ Normalize, `sentence_bert_config.json`, `config_sentence_transformers.json` — around a random-weight BERT
(transformers `BertConfig`, 2 layers, hidden size 64, fixed seed; its one token-type embedding zeroed) and a
WordPiece tokenizer over `corpus`'s words, made with the `tokenizers` library (`wordpiece_vocab`). The
tokenizer files are written by hand (`tokenizer.json`, `vocab.txt`, a `tokenizer_config.json` naming
BertTokenizerFast) so that transformers 4 (the parity venv) and 5 (the core) read the same tokenizer.
`SentenceTransformer(dest)` loads it in both environments; the same corpus and seed give the same files.

The token-type embedding is zeroed because, left random, that one vector added to every token dominates the
mean-pooled embedding and puts every cosine near 0.95. Zeroed, the cosines between T-Eval's API names spread
from about 0.2 to 0.96 (median about 0.73), on both sides of the 0.7 match threshold: plans match on near
names, not only on equal ones.
"""

from __future__ import annotations

import json
from pathlib import Path

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
MAX_SEQ_LENGTH = 128


def build_tiny_sentence_model(dest: Path, corpus: list[str], *, seed: int = 0) -> Path:
    """Write the model directory to `dest` (created) and return it."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    vocab_size = _write_tokenizer(dest, corpus)
    _write_bert(dest, vocab_size, seed)
    _write_sentence_transformers_files(dest)
    return dest


def _write_tokenizer(dest: Path, corpus: list[str]) -> int:
    """A BERT-style WordPiece tokenizer (lowercasing normalizer, [CLS] x [SEP]) over `corpus`'s vocabulary."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = wordpiece_vocab(corpus)
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    tok.save(str(dest / "tokenizer.json"))
    (dest / "vocab.txt").write_text("".join(token + "\n" for token in vocab), encoding="utf-8")
    config = {
        "tokenizer_class": "BertTokenizerFast",
        "do_lower_case": True,
        "model_max_length": MAX_SEQ_LENGTH,
        "unk_token": "[UNK]",
        "sep_token": "[SEP]",
        "pad_token": "[PAD]",
        "cls_token": "[CLS]",
        "mask_token": "[MASK]",
    }
    (dest / "tokenizer_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    (dest / "special_tokens_map.json").write_text(
        json.dumps({k: v for k, v in config.items() if k.endswith("_token")}, indent=2), encoding="utf-8"
    )
    return len(vocab)


def wordpiece_vocab(corpus: list[str], min_count: int = 2) -> dict[str, int]:
    """Token → id: the special tokens, every character (alone and as a '##' continuation), then each word of the
    corpus (BERT-normalized and pre-tokenized by `tokenizers`) seen at least `min_count` times, sorted.

    Built rather than trained: `tokenizers`' WordPieceTrainer breaks ties in hash order, so two trainings on
    the same corpus give different vocabularies; this one is the same on every build.
    """
    from collections import Counter

    from tokenizers import normalizers, pre_tokenizers

    norm, pre = normalizers.BertNormalizer(lowercase=True), pre_tokenizers.BertPreTokenizer()
    words = Counter(w for line in corpus for w, _ in pre.pre_tokenize_str(norm.normalize_str(line)))
    chars = sorted({c for w in words for c in w})
    tokens = (
        SPECIAL
        + chars
        + ["##" + c for c in chars]
        + sorted(w for w, n in words.items() if n >= min_count and len(w) > 1)
    )
    return {token: i for i, token in enumerate(tokens)}


def _write_bert(dest: Path, vocab_size: int, seed: int) -> None:
    """A random-weight BertModel (seeded), saved as safetensors."""
    import torch
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        max_position_embeddings=MAX_SEQ_LENGTH,
        type_vocab_size=1,
    )
    torch.manual_seed(seed)
    model = BertModel(config)
    with torch.no_grad():  # one constant token type: its embedding would only add the same offset to every token
        model.embeddings.token_type_embeddings.weight.zero_()
    model.save_pretrained(dest, safe_serialization=True)


def _write_sentence_transformers_files(dest: Path) -> None:
    """all-mpnet-base-v2's module files: Transformer (this directory) → mean Pooling → Normalize."""
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    (dest / "modules.json").write_text(json.dumps(modules, indent=2), encoding="utf-8")
    (dest / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False}), encoding="utf-8"
    )
    (dest / "config_sentence_transformers.json").write_text(
        json.dumps({"__version__": {"sentence_transformers": "3.0.0"}}), encoding="utf-8"
    )
    pooling = {
        "word_embedding_dimension": 64,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    }
    (dest / "1_Pooling").mkdir(exist_ok=True)
    (dest / "1_Pooling" / "config.json").write_text(json.dumps(pooling, indent=2), encoding="utf-8")
    (dest / "2_Normalize").mkdir(exist_ok=True)


def teval_corpus(teval_dir: Path) -> list[str]:
    """The text the tokenizer's vocabulary is drawn from: T-Eval's API descriptions and the plan files' API
    names and reference steps (name and args)."""
    teval_dir = Path(teval_dir)
    lines = [json.dumps(api) for api in json.loads((teval_dir / "api_descrip.json").read_text(encoding="utf-8"))]
    for name in ("plan_json_v1.json", "plan_str_v1.json"):
        for record in json.loads((teval_dir / name).read_text(encoding="utf-8")).values():
            lines += record["meta"]["API_list"]
            lines += [f"{step['name']} {json.dumps(step['args'])}" for step in record["ground_truth"]]
    return lines
