"""An OpenAI-compatible chat-completions server: vLLM, Ollama, llama.cpp server, or a hosted API.

JSON answers are constrained with `response_format: json_schema` where the server supports it.
When the server refuses that (400), Loupe falls back to asking for the schema in the prompt and
parses strictly: the first JSON object in the answer must validate against the schema, or the
request is retried once with the validation error, and then fails with a clear message.

Timeouts, 429 and 5xx answers are retried with exponential backoff (Retry-After is honoured, up
to a cap); at most `concurrency` requests are in flight. An unreachable server is reported with
its address and what to check.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from models.llm.errors import LLMError

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
T = TypeVar("T")
R = TypeVar("R")


class OpenAICompatible:
    name = "openai"

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, timeout: float = 60.0, retries: int = 3,
                 backoff: float = 0.5, max_backoff: float = 20.0, concurrency: int = 4, json_mode: str = "auto",
                 temperature: float = 0.0, max_tokens: int = 400) -> None:
        import httpx

        if not base_url.startswith(("http://", "https://")):
            raise LLMError(f"LLM base URL must start with http:// or https://, not {base_url!r}")
        if json_mode not in ("auto", "schema", "prompt"):
            raise LLMError(f"json_mode must be auto, schema or prompt, not {json_mode!r}")
        self.base_url = base_url.rstrip("/")
        self.model_id = model
        self.retries, self.backoff, self.max_backoff = retries, backoff, max_backoff
        self.temperature, self.max_tokens = temperature, max_tokens
        self.json_mode = json_mode
        self._schema_ok = json_mode != "prompt"
        self._slots = threading.Semaphore(max(1, concurrency))
        self.concurrency = max(1, concurrency)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=self.base_url, timeout=timeout, headers=headers)
        self._httpx = httpx
        self.requests = 0

    # -- transport -------------------------------------------------------------------------
    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        httpx = self._httpx
        last = ""
        for attempt in range(self.retries + 1):
            wait = min(self.max_backoff, self.backoff * 2**attempt)
            try:
                with self._slots:
                    self.requests += 1
                    r = self._client.post("/chat/completions", json=payload)
            except httpx.ConnectError as exc:
                last = f"cannot reach the LLM server at {self.base_url} ({exc}); is it running, and is the base URL right (it usually ends in /v1)?"
            except httpx.TimeoutException:
                last = f"the LLM server at {self.base_url} did not answer within {self._client.timeout.read} s"
            else:
                if r.status_code == 200:
                    try:
                        body = r.json()
                    except ValueError:
                        raise LLMError(f"the LLM server answered 200 with a body that is not JSON: {r.text[:200]!r}") from None
                    if not isinstance(body, dict):
                        raise LLMError(f"the LLM server answered 200 with JSON that is not an object: {r.text[:200]!r}")
                    return body
                if r.status_code == 400 and "response_format" in payload:
                    raise _SchemaRefused(r.text[:300])
                if r.status_code not in RETRY_STATUS:
                    raise LLMError(f"the LLM server refused the request: HTTP {r.status_code}: {r.text[:300]}")
                last = f"the LLM server answered HTTP {r.status_code} ({r.text[:120]})"
                after = r.headers.get("retry-after")
                if after and after.replace(".", "", 1).isdigit():
                    wait = min(self.max_backoff, float(after))
            if attempt < self.retries:
                time.sleep(wait)
        raise LLMError(f"{last} (after {self.retries + 1} attempts)")

    def _chat(self, messages: list[dict[str, str]], *, max_tokens: int | None = None, response_format: dict[str, Any] | None = None) -> str:
        payload: dict[str, Any] = {"model": self.model_id, "messages": messages, "temperature": self.temperature,
                                   "max_tokens": max_tokens or self.max_tokens}
        if response_format is not None:
            payload["response_format"] = response_format
        body = self._post(payload)
        try:
            content = body["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise LLMError(f"the LLM server's answer has no choices[0].message.content: {json.dumps(body)[:300]}") from None
        if not isinstance(content, str):
            raise LLMError("the LLM server's message content is not text")
        return content

    def _map(self, fn: Callable[[T], R], items: list[T]) -> list[R]:
        if len(items) <= 1:
            return [fn(x) for x in items]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(fn, items))

    # -- the backend interface --------------------------------------------------------------
    def generate(self, prompts: list[str], max_tokens: int = 120) -> list[str]:
        return self._map(lambda p: self._chat([{"role": "user", "content": p}], max_tokens=max_tokens).strip(), prompts)

    def complete_json(self, prompts: list[str], schema: dict[str, Any]) -> list[dict[str, Any]]:
        return self._map(lambda p: self._json(p, schema), prompts)

    def score_choices(self, prompts: list[str], choices: list[list[str]]) -> list[list[float]]:
        raise LLMError("a chat server is asked for JSON answers in Loupe, not choice log-likelihoods")

    def _json(self, prompt: str, schema: dict[str, Any]) -> dict[str, Any]:
        messages = [{"role": "user", "content": prompt}]
        if self._schema_ok:
            try:
                text = self._chat(messages, response_format={"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": True}})
                return _validated(text, schema)
            except _SchemaRefused:
                if self.json_mode == "schema":
                    raise LLMError("the LLM server does not support response_format json_schema (set json_mode to auto or prompt)") from None
                self._schema_ok = False  # remember: this server parses nothing; ask in the prompt instead
            except _Invalid as exc:
                raise LLMError(f"the LLM server's answer breaks the requested JSON schema despite constrained output: {exc}") from None
        ask = messages + [{"role": "user", "content": "Answer with one JSON object only, no other text, valid against this JSON schema:\n"
                                                   + json.dumps(schema)}]
        text = self._chat(ask)
        try:
            return _validated(text, schema)
        except _Invalid as exc:
            retry = ask + [{"role": "assistant", "content": text}, {"role": "user", "content": f"That answer is invalid ({exc}). Answer again with the JSON object only."}]
            text = self._chat(retry)
            try:
                return _validated(text, schema)
            except _Invalid as exc2:
                raise LLMError(f"the LLM's answer is not valid JSON for the schema after a retry: {exc2}; answer was {text[:200]!r}") from None

    def close(self) -> None:
        self._client.close()


class _SchemaRefused(Exception):
    pass


class _Invalid(Exception):
    pass


def _validated(text: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The first JSON object in `text` (code fences allowed), validated against the schema."""
    import jsonschema

    cleaned = re.sub(r"^```(?:json)?\s*|\s*```\s*$", "", text.strip())
    start = cleaned.find("{")
    if start < 0:
        raise _Invalid("no JSON object in the answer")
    try:
        value, _ = json.JSONDecoder().raw_decode(cleaned[start:])
    except json.JSONDecodeError as exc:
        raise _Invalid(f"not valid JSON ({exc.msg} at {exc.pos})") from None
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(value), key=lambda e: list(e.absolute_path))
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "(top level)"
        raise _Invalid(f"{where}: {errors[0].message}")
    if not isinstance(value, dict):  # the schemas Loupe asks with all describe objects
        raise _Invalid("the answer is not a JSON object")
    return value
