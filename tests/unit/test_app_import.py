"""House rule: importing the app (or building it) opens no database and loads no model."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT


def test_import_and_create_app_are_light(tmp_path):
    code = (
        "import sys, json; from service.app import create_app; from service.settings import Settings; "
        f"app = create_app(Settings(data_dir={str(tmp_path)!r})); "
        "print(json.dumps({m: m in sys.modules for m in ('torch', 'sentence_transformers', 'faiss', 'psycopg')}))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == {"torch": False, "sentence_transformers": False, "faiss": False, "psycopg": False}
    assert not any(tmp_path.iterdir()), "creating the app must not create the database"
