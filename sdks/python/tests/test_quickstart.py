"""The README's quickstart is examples/quickstart.py verbatim, and it runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = "examples/quickstart.py"


def readme_block(file: str) -> str:
    readme = (ROOT / "README.md").read_text()
    marker = f"<!-- quickstart: {file} -->\n"
    assert marker in readme, f"README.md has no {marker!r} marker"
    after = readme.split(marker, 1)[1]
    block = after.split("\n", 1)[1]  # skip the opening fence
    assert "```\n" in block, "the quickstart code block is not closed"
    return block.split("```\n", 1)[0]


def test_quickstart_is_in_readme() -> None:
    assert readme_block(QUICKSTART) == (ROOT / QUICKSTART).read_text(), \
        f"README.md's quickstart differs from {QUICKSTART}: copy the file into the README"


def test_quickstart_runs(mesh: Dict[str, str]) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    out = subprocess.run([sys.executable, str(ROOT / QUICKSTART)], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    for want in ("secret Secret('**********')", "I am invoice-bot and I am active", "AGENT_NOT_FOUND 404"):
        assert want in out.stdout, out.stdout
