"""LLM backends, on real components: a tiny causal LM and a tiny NLI model built locally from a
config (random weights: these tests check mechanics, not quality), and a real HTTP server on
loopback speaking the OpenAI chat-completions protocol, including a malformed answer, a timeout,
a 429 and a server that refuses JSON-schema output."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from models.llm.base import ResponseCache
from models.llm.coder import LLMCoder, combine, select_for_rerank
from models.llm.errors import LLMError
from models.llm.local import CausalLM, NLIModel
from models.llm.openai_http import OpenAICompatible
from models.llm.prompts import Passage, template
from tests.tiny_models import tiny_causal_lm, tiny_nli

PASSAGES = [Passage("I trust Sarah personally; she always calls back.", "Respondent", "How do you work with the council?", "But funding is tight."),
            Passage("The money comes with strings attached.", "Respondent")]


@pytest.fixture(scope="module")
def lm_path(tmp_path_factory):
    return tiny_causal_lm(tmp_path_factory.mktemp("tiny-lm"))


@pytest.fixture(scope="module")
def lm(lm_path):
    return CausalLM(lm_path, batch_size=4)


def test_causal_lm_codes_with_valid_codes_probabilities_provenance_and_cache(lm, seed, tmp_path):
    cache_file = tmp_path / "llm-cache.sqlite"
    coder = LLMCoder(lm, seed, cache=ResponseCache(cache_file))
    first = coder.code(PASSAGES)
    for coding in first:
        assert coding.code is None or coding.code in seed.codes
        assert set(coding.probabilities) == set(seed.codes) | {"none"}
        assert sum(coding.probabilities.values()) == pytest.approx(1.0)
        p = coding.provenance
        assert (p.backend, p.model, p.template) == ("transformers", lm.model_id, "deductive.v1") and not p.cached
        assert p.template_sha256 == template("deductive").sha256 and p.at and p.params["extra"][-1] == "none"
    # a re-run, in a new coder with the same cache file, is answered from the cache: same answers, no model call
    again = LLMCoder(_NoCalls(lm), seed, cache=ResponseCache(cache_file)).code(PASSAGES)
    assert [a.probabilities for a in again] == [f.probabilities for f in first]
    assert all(a.provenance.cached and a.provenance.at == f.provenance.at and a.provenance.request == f.provenance.request
               for a, f in zip(again, first, strict=False))


def test_choice_scores_equal_a_full_forward_pass(lm):
    import torch

    prompt = "Passage: I trust them. Code:"
    scores = lm.score_choices([prompt], [["trust/personal", "power"]])[0]
    for choice, score in zip(["trust/personal", "power"], scores, strict=False):
        ids, c = lm._ids(prompt), lm._ids(" " + choice)
        with torch.inference_mode():
            logp = torch.log_softmax(lm.model(input_ids=torch.tensor([ids + c])).logits[0].float(), -1)
        assert score == pytest.approx(sum(float(logp[len(ids) + k - 1, c[k]]) for k in range(len(c))), abs=1e-4)


def test_causal_lm_verifies_explains_and_names(lm, seed):
    coder = LLMCoder(lm, seed)
    checks = coder.verify([(PASSAGES[0], "trust/personal"), (PASSAGES[1], "power/funding")])
    assert all(0 < v.p_applies < 1 and v.provenance.template == "verify.v1" for v in checks)
    (text, prov), = coder.rationale([(PASSAGES[0], "trust/personal")], max_tokens=6)
    assert isinstance(text, str) and prov.template == "rationale.v1" and prov.params["extra"] == 6
    named, prov = coder.name_cluster(["waiting", "lists", "referrals"], ["The waiting list is long.", "Referrals take months."])
    assert named["name"] and named["definition"] and prov.template == "name_cluster.v1"


def test_local_models_fail_clearly(lm_path, tmp_path):
    with pytest.raises(LLMError, match="not a local model folder"):
        CausalLM(tmp_path / "nowhere")
    with pytest.raises(LLMError, match="needs a GPU"):
        CausalLM(lm_path, precision="bf16", device="cpu")
    with pytest.raises(LLMError, match="not an NLI model"):
        NLIModel(lm_path)


def test_nli_model_scores_code_definitions(seed, tmp_path):
    nli = NLIModel(tiny_nli(tmp_path / "tiny-nli"))
    coder = LLMCoder(nli, seed)
    (coding,) = coder.code(PASSAGES[:1])
    assert sum(coding.probabilities.values()) == pytest.approx(1.0) and (coding.code is None or coding.code in seed.codes)
    assert coding.provenance.backend == "nli" and coding.provenance.template == "nli_hypothesis.v1"
    (check,) = coder.verify([(PASSAGES[0], "trust")])
    assert 0 < check.p_applies < 1
    with pytest.raises(LLMError, match="cannot write text"):
        coder.rationale([(PASSAGES[0], "trust")])


def test_rerank_selection_and_combination():
    scores = [0.9, 0.5, 0.4, 0.1, 0.62]
    assert select_for_rerank(scores, "uncertain").tolist() == [1, 2, 4]
    assert select_for_rerank(scores, "topk", k=2).tolist() == [0, 4]
    assert select_for_rerank(scores, "all").tolist() == [0, 1, 2, 3, 4]
    assert combine(0.4, 1.0) == pytest.approx(0.7)
    with pytest.raises(LLMError, match="unknown rerank mode"):
        select_for_rerank(scores, "some")  # type: ignore[arg-type]


class _NoCalls:
    """A backend stand-in that fails if the model is asked anything (to prove cache hits)."""

    def __init__(self, real):  # type: ignore[no-untyped-def]
        self.name, self.model_id = real.name, real.model_id

    def __getattr__(self, item):  # type: ignore[no-untyped-def]
        raise AssertionError(f"the model was called ({item}) although the answer was cached")


# -- a local server speaking the OpenAI chat-completions protocol ----------------------------------

class ChatServer(BaseHTTPRequestHandler):
    mode = "ok"
    requests: list[dict] = []
    failures_left = 0

    def log_message(self, *args):  # type: ignore[no-untyped-def]
        pass

    def _send(self, status: int, body: str, headers: dict | None = None) -> None:  # type: ignore[type-arg]
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(body.encode())
        except BrokenPipeError:  # the client gave up (the timeout test)
            pass

    def do_POST(self):  # type: ignore[no-untyped-def]
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        cls = type(self)
        cls.requests.append(payload)
        if self.path != "/v1/chat/completions":
            return self._send(404, '{"error": "not found"}')
        if cls.mode == "slow":
            time.sleep(1.0)
        if cls.mode == "429" and cls.failures_left > 0:
            cls.failures_left -= 1
            return self._send(429, '{"error": "rate limited"}', {"Retry-After": "0"})
        if cls.mode == "no-schema" and "response_format" in payload:
            return self._send(400, '{"error": "response_format is not supported"}')
        if cls.mode == "broken-body":
            return self._send(200, "this is not json")
        schema = (payload.get("response_format") or {}).get("json_schema", {}).get("schema")
        prompt = payload["messages"][-1]["content"]
        if cls.mode == "malformed":
            content = "I would say the code is trust."
        elif schema is None and "JSON schema" in prompt:
            schema = json.loads(prompt.split("JSON schema:\n", 1)[1])
            content = "```json\n" + json.dumps(_answer(schema)) + "\n```"
        elif schema is not None:
            content = json.dumps(_answer(schema))
        else:
            content = "Because the speaker names a person they rely on."
        self._send(200, json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}))


def _answer(schema: dict) -> dict:  # type: ignore[type-arg]
    props = schema["properties"]
    out: dict = {}
    for key, spec in props.items():
        if "enum" in spec:
            out[key] = spec["enum"][1]
        elif spec.get("type") == "number":
            out[key] = 0.8
        elif spec.get("type") == "boolean":
            out[key] = True
        else:
            out[key] = "Partnership fatigue"
    return out


@pytest.fixture
def chat_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), ChatServer)
    ChatServer.mode, ChatServer.requests, ChatServer.failures_left = "ok", [], 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_http_backend_codes_with_constrained_json_and_caches(chat_server, seed):
    backend = OpenAICompatible(chat_server, "local-model", api_key="k", timeout=5, concurrency=2)
    coder = LLMCoder(backend, seed)
    first = coder.code(PASSAGES)
    assert all(c.code == list(seed.codes)[1] and c.probabilities[c.code] == pytest.approx(0.8) for c in first)
    assert all(sum(c.probabilities.values()) == pytest.approx(1.0) for c in first)
    assert ChatServer.requests[0]["response_format"]["type"] == "json_schema" and ChatServer.requests[0]["model"] == "local-model"
    assert first[0].provenance.backend == "openai" and first[0].provenance.model == "local-model"
    sent = len(ChatServer.requests)
    assert [c.provenance.cached for c in coder.code(PASSAGES)] == [True, True] and len(ChatServer.requests) == sent
    (check,) = coder.verify([(PASSAGES[0], "trust")])
    assert check.p_applies == pytest.approx(0.8)
    (text, _), = coder.rationale([(PASSAGES[0], "trust")])
    assert text.startswith("Because")
    named, _ = coder.name_cluster(["waiting", "lists"], ["The list is long."])
    assert named == {"name": "Partnership fatigue", "definition": "Partnership fatigue"}


def test_http_backend_falls_back_to_prompted_json_when_the_server_refuses_schemas(chat_server, seed):
    ChatServer.mode = "no-schema"
    coder = LLMCoder(OpenAICompatible(chat_server, "m", timeout=5), seed)
    codings = coder.code(PASSAGES[:1] * 1)
    assert codings[0].code == list(seed.codes)[1]
    assert "response_format" in ChatServer.requests[0] and "response_format" not in ChatServer.requests[-1]


def test_http_backend_malformed_answers_fail_after_one_repair(chat_server, seed):
    ChatServer.mode = "malformed"
    backend = OpenAICompatible(chat_server, "m", timeout=5, json_mode="prompt")
    with pytest.raises(LLMError, match="not valid JSON for the schema after a retry"):
        LLMCoder(backend, seed).code(PASSAGES[:1])
    assert len(ChatServer.requests) == 2  # the answer, and one repair attempt
    ChatServer.mode = "broken-body"
    with pytest.raises(LLMError, match="body that is not JSON"):
        backend.generate(["hello"])


def test_http_backend_retries_429_and_reports_timeouts_and_unreachable_servers(chat_server):
    ChatServer.mode, ChatServer.failures_left = "429", 2
    backend = OpenAICompatible(chat_server, "m", timeout=5, retries=3, backoff=0.01)
    assert backend.generate(["hello"]) == ["Because the speaker names a person they rely on."]
    assert len(ChatServer.requests) == 3
    ChatServer.mode, ChatServer.failures_left = "429", 10
    with pytest.raises(LLMError, match="HTTP 429.*after 2 attempts"):
        OpenAICompatible(chat_server, "m", timeout=5, retries=1, backoff=0.01).generate(["hello"])
    ChatServer.mode = "slow"
    t0 = time.monotonic()
    with pytest.raises(LLMError, match="did not answer within 0.2 s"):
        OpenAICompatible(chat_server, "m", timeout=0.2, retries=1, backoff=0.01).generate(["hello"])
    assert time.monotonic() - t0 < 5
    with pytest.raises(LLMError, match="cannot reach the LLM server at http://127.0.0.1:9/v1"):
        OpenAICompatible("http://127.0.0.1:9/v1", "m", timeout=1, retries=1, backoff=0.01).generate(["hello"])
    with pytest.raises(LLMError, match="must start with http"):
        OpenAICompatible("localhost:8000", "m")
