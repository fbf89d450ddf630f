"""docs/api.md's example runs as written, from a plain script in an empty folder (no main guard)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_api_doc_example_runs(tmp_path):
    pytest.importorskip("pandas")
    text = (ROOT / "docs" / "api.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "docs/api.md has no python example"
    script = tmp_path / "example.py"
    script.write_text(blocks[-1])
    res = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=600
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "fc_small" in res.stdout
    assert re.search(r" 10 drive units: +\d", res.stdout) and re.search(r" 20 drive units: +\d", res.stdout)
    assert "trips created" in res.stdout
    assert "refused: [('fleet[0].count'" in res.stdout
