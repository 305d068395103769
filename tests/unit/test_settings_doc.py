"""docs/settings.md is generated from service.settings.Settings: it must be current, and its examples must hold."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from service.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gen_settings_doc.py"


def test_settings_page_is_current() -> None:
    run = subprocess.run([sys.executable, str(SCRIPT), "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr + "\nRegenerate it: python3 scripts/gen_settings_doc.py"


def test_every_setting_is_on_the_page() -> None:
    page = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    prefix = Settings.model_config["env_prefix"]
    for name in Settings.model_fields:
        assert f"`{prefix}{name.upper()}`" in page


def test_the_documented_list_format_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    speakers = ["Interviewer", "Moderator"]
    monkeypatch.setenv("LOUPE_SKIP_SPEAKERS", json.dumps(speakers))
    assert Settings().skip_speakers == speakers
    monkeypatch.setenv("LOUPE_SKIP_SPEAKERS", "[]")
    assert Settings().skip_speakers == []
