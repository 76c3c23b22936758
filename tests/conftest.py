import json
import socket
import subprocess
import sys
import time

import pytest


@pytest.fixture
def tmpfs(tmp_path):
    """``mount(name, options) -> folder``: a tmpfs mounted under ``tmp_path`` (``"ro,size=1m"``: read-only,
    ``"size=64k"``: a disk that fills up), unmounted after the test. Skips where mounting is impossible."""
    mounted = []

    def mount(name: str, options: str):
        d = tmp_path / name
        d.mkdir()
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(d)], capture_output=True)
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs ({options}) here: {r.stderr.decode().strip() or r.returncode}")
        mounted.append(d)
        return d

    try:
        yield mount
    finally:
        for d in reversed(mounted):
            subprocess.run(["umount", "-l", str(d)], check=False)  # lazy: a file still open does not block it


@pytest.fixture
def live_lock():
    """``hold(path) -> process``: ``<path>.lock`` held by a live process (as another writer's would be);
    the process is killed after the test (or earlier by the test, to make the lock stale)."""
    holders = []

    def hold(path):
        p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        holders.append(p)
        lock = path.with_name(path.name + ".lock")
        lock.write_text(json.dumps({"host": socket.gethostname(), "pid": p.pid, "started": time.time()}))
        return p

    try:
        yield hold
    finally:
        for p in holders:
            p.kill()
            p.wait()
