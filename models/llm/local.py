"""Local models by path, through transformers: a causal LM (choice scoring and generation) and a
sequence-classification NLI model (entailment of code definitions). Nothing is downloaded:
`local_files_only` is always set. On a GPU the weights load in bf16 (fp16 where bf16 is not
supported); on the CPU in fp32.
"""

from __future__ import annotations

import hashlib
import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from models.llm.errors import LLMError

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase


def _device_and_dtype(device: str, precision: str) -> tuple[str, torch.dtype, str]:
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise LLMError(f"device {device!r} was asked for, but torch sees no CUDA device")
    on_gpu = device.startswith("cuda")
    if precision == "auto":
        precision = ("bf16" if torch.cuda.is_bf16_supported() else "fp16") if on_gpu else "fp32"
    if precision in ("fp16", "bf16") and not on_gpu:
        raise LLMError(f"{precision} needs a GPU here; use fp32 on the CPU")
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}.get(precision)
    if dtype is None:
        raise LLMError(f"unknown precision {precision!r}; use auto, fp32, fp16 or bf16")
    return device, dtype, precision


def _model_id(path: Path) -> str:
    config = path / "config.json"
    digest = hashlib.sha256(config.read_bytes()).hexdigest()[:12] if config.exists() else "noconfig"
    return f"{path.name}@{digest}"


def _check_path(path: str | Path, what: str) -> Path:
    p = Path(path).expanduser()
    if not (p / "config.json").exists():
        raise LLMError(f"{what} model: {p} is not a local model folder (no config.json); give the path of a saved transformers model")
    return p


def _load(auto_class_name: str, path: str | Path, what: str, device: str,
          precision: str) -> tuple[Path, PreTrainedTokenizerBase, Any, str, str]:
    """(folder, tokenizer, model in eval mode on its device, device, precision) for a local model.

    The model's class is transformers' `auto_class_name`, picked by name, so its type is Any here."""
    import transformers

    folder = _check_path(path, what)
    device, dtype, precision = _device_and_dtype(device, precision)
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
        model = getattr(transformers, auto_class_name).from_pretrained(folder, local_files_only=True, dtype=dtype).to(device).eval()
    except (OSError, ValueError) as exc:
        raise LLMError(f"cannot load the {what} model at {folder}: {exc}") from None
    return folder, tokenizer, model, device, precision


class CausalLM:
    """A local causal language model: log-likelihood of choices, and greedy generation."""

    name = "transformers"

    def __init__(self, path: str | Path, *, device: str = "auto", precision: str = "auto", batch_size: int = 8, max_length: int = 2048) -> None:
        import torch

        self.path, self.tokenizer, self.model, self.device, self.precision = _load("AutoModelForCausalLM", path, "causal LM", device, precision)
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.unk_token
        config = self.model.config
        context = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None) or max_length
        self.batch_size, self.max_length = batch_size, min(max_length, int(context))
        self.tokenizer.model_max_length = self.max_length
        self._cache_arg = "cache" if "cache" in inspect.signature(self.model.forward).parameters else "past_key_values"
        self.truncated = 0  # prompts cut from the left to fit the context
        self.model_id = _model_id(self.path)
        self._torch = torch

    def _ids(self, text: str) -> list[int]:
        ids: list[int] = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return ids

    def score_choices(self, prompts: list[str], choices: list[list[str]]) -> list[list[float]]:
        """Sum of token log-probabilities of each choice (with a leading space) after its prompt.

        The prompt runs once; each choice continues from a copy of its key/value cache, so a
        codebook of 20 codes costs one long forward pass and 20 short ones."""
        import copy

        torch = self._torch
        out: list[list[float]] = []
        for prompt, options in zip(prompts, choices, strict=True):
            c_ids = [self._ids(" " + c) for c in options]
            if any(not ids for ids in c_ids):
                raise LLMError(f"a choice has no tokens: {options}")
            p_ids = self._ids(prompt) or [self.tokenizer.pad_token_id]
            keep = max(1, self.max_length - max(len(c) for c in c_ids))
            self.truncated += len(p_ids) > keep
            p_ids = p_ids[-keep:]
            with torch.inference_mode():
                first = self.model(input_ids=torch.tensor([p_ids], device=self.device), use_cache=True)
                cache = first["cache"] if "cache" in first else first["past_key_values"]  # transformers 5 renamed it
                head = torch.log_softmax(first.logits[0, -1].float(), dim=-1)
                scores = []
                for ids in c_ids:
                    total = float(head[ids[0]])
                    if len(ids) > 1:
                        more = self.model(input_ids=torch.tensor([ids[:-1]], device=self.device),
                                          **{self._cache_arg: copy.deepcopy(cache)}, use_cache=True)
                        logp = torch.log_softmax(more.logits[0].float(), dim=-1)
                        total += float(logp[torch.arange(len(ids) - 1), torch.tensor(ids[1:])].sum())
                    scores.append(total)
            out.append(scores)
        return out

    def generate(self, prompts: list[str], max_tokens: int = 60) -> list[str]:
        torch = self._torch
        self.tokenizer.padding_side = "left"
        texts: list[str] = []
        for lo in range(0, len(prompts), self.batch_size):
            enc = self.tokenizer(prompts[lo:lo + self.batch_size], return_tensors="pt", padding=True, add_special_tokens=False,
                                 truncation=True, max_length=self.max_length - max_tokens)
            with torch.inference_mode():
                gen = self.model.generate(**{k: v.to(self.device) for k, v in enc.items()}, max_new_tokens=max_tokens, do_sample=False,
                                          pad_token_id=self.tokenizer.pad_token_id)
            texts += [t.strip() for t in self.tokenizer.batch_decode(gen[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)]
        return texts

    def complete_json(self, prompts: list[str], schema: dict[str, Any]) -> list[dict[str, Any]]:
        raise LLMError("a local causal LM answers by choice scoring in Loupe, not with JSON; use an OpenAI-compatible server for JSON")


class NLIModel:
    """A local sequence-classification NLI model: P(entailment) of hypotheses given a premise."""

    name = "nli"

    def __init__(self, path: str | Path, *, device: str = "auto", precision: str = "auto", batch_size: int = 16, max_length: int = 512) -> None:
        import torch

        self.path, self.tokenizer, self.model, self.device, self.precision = _load("AutoModelForSequenceClassification", path, "NLI", device, precision)
        labels = {str(v).lower(): int(k) for k, v in self.model.config.id2label.items()}
        self.entail = next((i for name, i in labels.items() if name.startswith("entail")), None)
        self.contra = next((i for name, i in labels.items() if name.startswith("contradict")), None)
        if self.entail is None or self.contra is None:
            raise LLMError(f"{self.path}: not an NLI model (labels {sorted(labels)}; need entailment and contradiction)")
        self.batch_size, self.max_length = batch_size, max_length
        self.model_id = _model_id(self.path)
        self._torch = torch

    def entailment(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        """(len(pairs), 2): [logit of entailment, logit of contradiction] per (premise, hypothesis)."""
        torch = self._torch
        out = np.zeros((len(pairs), 2), np.float32)
        for lo in range(0, len(pairs), self.batch_size):
            chunk = pairs[lo:lo + self.batch_size]
            enc = self.tokenizer([p for p, _ in chunk], [h for _, h in chunk], return_tensors="pt", padding=True,
                                 truncation="only_first", max_length=self.max_length)
            with torch.inference_mode():
                logits = self.model(**{k: v.to(self.device) for k, v in enc.items()}).logits.float().cpu().numpy()
            out[lo:lo + len(chunk), 0] = logits[:, self.entail]
            out[lo:lo + len(chunk), 1] = logits[:, self.contra]
        return out

    def score_choices(self, prompts: list[str], choices: list[list[str]]) -> list[list[float]]:
        raise LLMError("an NLI model scores hypotheses, not choices")

    def generate(self, prompts: list[str], max_tokens: int = 60) -> list[str]:
        raise LLMError("an NLI model cannot write text; configure a causal LM or an OpenAI-compatible server for rationales")

    def complete_json(self, prompts: list[str], schema: dict[str, Any]) -> list[dict[str, Any]]:
        raise LLMError("an NLI model cannot answer in JSON")
