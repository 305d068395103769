"""The LLM in the service, over real HTTP with a tiny local causal LM (random weights: mechanics,
not quality): a suggest job verifies suggestions and records the provenance on each one, a re-run
is answered from the cache, decisions keep the LLM-blended model name, and a cluster job lets the
LLM name candidate codes."""

from __future__ import annotations

from tests.api.conftest import TRANSCRIPTS, wait_for_job
from tests.api.conftest import new_project as make_project
from tests.tiny_models import tiny_causal_lm


def test_suggest_job_with_llm_verification(make_server, tmp_path):
    model = tiny_causal_lm(tmp_path / "tiny-lm")
    server = make_server(data_dir=tmp_path / "llm", LOUPE_LLM_BACKEND="transformers", LOUPE_LLM_MODEL=str(model),
                         LOUPE_LLM_RERANK="topk", LOUPE_LLM_RERANK_K="8", LOUPE_LLM_RATIONALES="true").start()
    pid, owner = make_project(server.url, retrain_every=0, threshold=0.3)
    with open(TRANSCRIPTS[0], "rb") as f:
        owner.ok("POST", f"/projects/{pid}/documents", 201, files={"file": (TRANSCRIPTS[0].name, f)})
    job = wait_for_job(owner, pid, owner.ok("POST", f"/projects/{pid}/jobs", 202, json={"kind": "suggest"})["id"])
    assert job["status"] == "done", job["error"]
    assert job["counts"]["llm_verified"] == 8 and job["counts"]["llm_cached"] == 0 and "llm_error" not in job["counts"]
    items, cursor = [], None
    while True:  # every suggestion, page by page
        page = owner.ok("GET", f"/projects/{pid}/queue", params={"limit": 200, **({"cursor": cursor} if cursor else {})})
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    verified = [i["suggestion"] for i in items if i["suggestion"]["evidence"].get("llm")]
    assert len(verified) == 8
    for s in verified:
        llm = s["evidence"]["llm"]
        prov = llm["provenance"]
        assert prov["backend"] == "transformers" and prov["model"].startswith("tiny-lm@") and prov["template"] == "verify.v1"
        assert len(prov["template_sha256"]) == 64 and prov["at"] and prov["params"]["extra"] == ["yes", "no"]
        assert abs(s["score"] - (0.5 * llm["prior_score"] + 0.5 * llm["p_applies"])) < 1e-4  # p_applies is stored to 4 places
        assert s["model"].endswith("+llm:" + prov["model"]) and "rationale" in llm and llm["rationale_provenance"]["template"] == "rationale.v1"
    entry = owner.ok("POST", f"/projects/{pid}/decisions", 201, json={"suggestion_id": verified[0]["id"], "verdict": "accept"})
    assert entry["suggested_model"] == verified[0]["model"]

    again = wait_for_job(owner, pid, owner.ok("POST", f"/projects/{pid}/jobs", 202, json={"kind": "suggest"})["id"])
    assert again["status"] == "done" and again["counts"]["llm_verified"] == 8 and again["counts"]["llm_cached"] == 8

    # Only participants' turns are clustered, and at threshold 0.3 most carry a code: raise the
    # threshold so that some clusters are poorly covered and become candidates for the LLM to name.
    owner.ok("PATCH", f"/projects/{pid}", json={"threshold": 0.95})
    clustered = wait_for_job(owner, pid, owner.ok("POST", f"/projects/{pid}/jobs", 202, json={
        "kind": "cluster", "params": {"method": "kmeans", "k": 3, "coverage_threshold": 1.0}})["id"])
    assert clustered["status"] == "done", clustered["error"]
    candidates = owner.ok("GET", f"/projects/{pid}/clusters/candidates")["clusters"]
    assert candidates and all(c["naming"]["by"] == "llm" and c["naming"]["provenance"]["template"] == "name_cluster.v1" for c in candidates)
    assert all(c["name"] and c["definition"] for c in candidates)


def test_unreachable_llm_server_leaves_the_suggestions_and_says_why(make_server, tmp_path):
    server = make_server(data_dir=tmp_path / "down", LOUPE_LLM_BACKEND="openai", LOUPE_LLM_MODEL="m",
                         LOUPE_LLM_BASE_URL="http://127.0.0.1:9/v1", LOUPE_LLM_TIMEOUT="1", LOUPE_LLM_RERANK="all").start()
    pid, owner = make_project(server.url, retrain_every=0)
    with open(TRANSCRIPTS[0], "rb") as f:
        owner.ok("POST", f"/projects/{pid}/documents", 201, files={"file": (TRANSCRIPTS[0].name, f)})
    job = wait_for_job(owner, pid, owner.ok("POST", f"/projects/{pid}/jobs", 202, json={"kind": "suggest"})["id"])
    assert job["status"] == "done" and job["counts"]["suggestions_new"] > 0
    assert "cannot reach the LLM server at http://127.0.0.1:9/v1" in job["counts"]["llm_error"]
