"""Running a stress script's short form as its own process, and reading its figures.

Each script prints its figures as ``JSON {...}`` lines; a failing run's whole output goes into
the assertion message, so CI shows what failed without a second run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("LOTSE_TEST_POSTGRES_URL")


def run_script(script: str, *args: str, timeout: float = 300) -> list[dict[str, Any]]:
    """``python stress/SCRIPT ARGS``; the figures it printed. Fails the test on a non-zero
    exit, with the script's output."""
    env = dict(os.environ)
    # the scripts choose PostgreSQL only when told to: a test says so with --postgres
    env.pop("LOTSE_TEST_POSTGRES_URL", None)
    env.pop("LOTSE_STRESS_POSTGRES_URL", None)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "stress" / script), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    output = proc.stdout + "\n--- stderr ---\n" + proc.stderr[-6000:]
    assert proc.returncode == 0, f"stress/{script} {' '.join(args)} failed:\n{output}"
    figures = [
        json.loads(line[5:]) for line in proc.stdout.splitlines() if line.startswith("JSON ")
    ]
    assert figures, f"stress/{script} printed no figures:\n{output}"
    return figures
