"""Run a peer project's own reader (The Well, PDEBench) in a subprocess with its pinned packages.

``make test`` installs them (no dependencies: they use the torch/numpy/h5py already here) into
``.test-deps/<name>`` (see the Makefile) and sets ``SCIML_REQUIRE_PEERS=1``, so a missing
environment fails there instead of skipping. The peer code runs in its own interpreter because
The Well pins ``fsspec==2024.10.0``, older than the one sciml's environment holds.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PINS = {"well": "the_well==1.2.0", "pdebench": "pdebench==0.1.0"}


def peer_path(name: str) -> Path:
    deps = Path(os.environ.get("SCIML_TEST_DEPS", ROOT / ".test-deps")) / name
    if not deps.is_dir():
        msg = (f"{PINS[name]} is not installed in {deps} (make test does it: "
               f"pip install --no-deps --target {deps} ...; see the Makefile)")
        if os.environ.get("SCIML_REQUIRE_PEERS") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return deps


def run_peer(name: str, code: str, *args, timeout: int = 300) -> str:
    """Run ``code`` with the peer's packages first on the path; return its stdout (fail on error)."""
    deps = peer_path(name)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(deps), str(ROOT)]), "OMP_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, "-c", code, *map(str, args)], env=env, capture_output=True, text=True,
                         timeout=timeout)
    if res.returncode != 0:
        pytest.fail(f"{PINS[name]} reader failed (exit {res.returncode}):\n{res.stderr[-4000:]}")
    return res.stdout
