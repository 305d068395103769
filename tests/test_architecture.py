"""House rules that keep the layout honest."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_import_contracts_hold():
    """scripts -> service -> eval -> models; models and eval import no web or database code."""
    beside_python = Path(sys.executable).with_name("lint-imports")
    exe = str(beside_python) if beside_python.exists() else shutil.which("lint-imports")
    assert exe, "import-linter is not installed: pip install -e '.[dev]'"
    proc = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def test_importing_the_packages_loads_no_model():
    """Nothing heavy at import time: importing the service and CLI loads neither torch nor a model."""
    code = (
        "import sys, scripts.cli, service.batch.run, service.settings, models.codebook; "
        "print('torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "False"], proc.stdout
