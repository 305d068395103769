"""Property-based requests from the OpenAPI schema (schemathesis) against a real server: no 5xx.

Path ids are pointed at a real project most of the time, so generated requests get past the
404s and exercise the handlers; the token is a real owner's.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.api.conftest import TRANSCRIPTS, Server, new_project, wait_for_job


@pytest.fixture(scope="module")
def live(tmp_path_factory, shared_cache):
    server = Server(tmp_path_factory.mktemp("schema"), None, shared_cache, LOUPE_MAX_UPLOAD_MB="1").start()
    pid, owner = new_project(server.url, retrain_every=25)
    with open(TRANSCRIPTS[0], "rb") as f:
        owner.ok("POST", f"/projects/{pid}/documents", 201, files={"file": (TRANSCRIPTS[0].name, f)})
    wait_for_job(owner, pid, owner.ok("POST", f"/projects/{pid}/jobs", 202, json={"kind": "suggest"})["id"])
    yield server, pid, dict(owner.headers)
    server.stop()


@pytest.fixture(scope="module")
def api_schema(live):
    server, _, _ = live
    return schemathesis.openapi.from_url(server.url + "/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case, live):
    server, pid, headers = live
    params = case.path_parameters or {}
    if "project_id" in params and isinstance(params["project_id"], int) and params["project_id"] % 4 != 0:
        params["project_id"] = pid
    response = case.call(base_url=server.url, headers={"Authorization": headers["Authorization"]})
    assert response.status_code < 500, f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
