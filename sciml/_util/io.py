"""Atomic writes and exclusive output locks.

Every file sciml writes goes through :func:`atomic_path` (or the ``write_*`` helpers built
on it): the content is written under a hidden temporary name in the destination folder,
flushed, given the permissions the user's umask asks for, and renamed over the
destination only when complete. A failed or interrupted write leaves the destination as
it was and removes the temporary file.

:class:`OutputLock` marks an output as being written: a lock file ``<output>.lock`` created
atomically (``O_CREAT | O_EXCL``) holding the owner's host, PID and start time. A second
writer is refused with :class:`OutputLockedError` naming the holder; a lock left by a dead
process on the same host is detected and taken over.
"""
from __future__ import annotations

import json
import math
import os
import socket
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "write_bytes", "write_text", "write_json", "dumps_json", "OutputLock",
           "OutputLockedError", "umask_mode", "atomic_dir"]


def umask_mode(base: int = 0o666) -> int:
    """``base`` with the process umask applied (what ``open()`` would give a new file)."""
    mask = os.umask(0)
    os.umask(mask)
    return base & ~mask


@contextmanager
def atomic_path(path, suffix: str = ""):
    """Yield a temporary path beside ``path``; rename it to ``path`` if the block succeeds.

    The temporary file gets the umask's permissions (not ``mkstemp``'s 0600) before the
    rename; on any exception it is removed and ``path`` is untouched.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        if tmp.exists():
            os.chmod(tmp, umask_mode())
        os.replace(tmp, path)
    finally:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass


def write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (fsync before the rename)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    return path


def write_text(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_bytes(path, text.encode("utf-8"))


def _finite(obj, where="$"):
    if isinstance(obj, float) and not math.isfinite(obj):
        raise ValueError(f"non-finite number {obj!r} at {where}: refusing to write it as JSON")
    if isinstance(obj, dict):
        for k, v in obj.items():
            _finite(v, f"{where}.{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _finite(v, f"{where}[{i}]")


def dumps_json(obj, indent: int | None = 2) -> str:
    """Strict JSON (no NaN/Infinity): a non-finite number raises ``ValueError`` naming where."""
    _finite(obj)
    return json.dumps(obj, indent=indent, allow_nan=False, default=_default) + "\n"


def _default(o):
    try:
        import numpy as np
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"object of type {type(o).__name__} is not JSON serialisable")


def write_json(path, obj, indent: int | None = 2) -> Path:
    """Write ``obj`` as strict JSON to ``path`` atomically."""
    return write_text(path, dumps_json(obj, indent))


class OutputLockedError(RuntimeError):
    """Another live process holds the lock on an output."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class OutputLock:
    """Exclusive lock on an output path, held by a lock file ``<path>.lock``.

    Use as a context manager. Re-entrant within one process (a nested lock on the same
    path by the same PID succeeds and only the outermost release removes the file).

    Parameters
    ----------
    path : str or Path
        The output being written (a file or a directory).

    Raises
    ------
    OutputLockedError
        When another live process holds the lock (the message names host, PID and start
        time). A lock file whose owner is a dead PID on this host is stale and is replaced.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "data.h5"
    >>> with OutputLock(out):
    ...     (out.parent / "data.h5.lock").exists()
    True
    """

    _held: dict = {}

    def __init__(self, path):
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    def _info(self) -> dict:
        return {"host": socket.gethostname(), "pid": os.getpid(), "started": time.time()}

    def _read(self):
        try:
            return json.loads(self.lock_path.read_text())
        except (OSError, ValueError):
            return None

    def acquire(self):
        key = str(self.lock_path.resolve())
        if OutputLock._held.get(key, (None, 0))[0] == os.getpid():
            pid, depth = OutputLock._held[key]
            OutputLock._held[key] = (pid, depth + 1)
            return self
        for _ in range(3):
            try:
                fd = os.open(self.lock_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, umask_mode())
            except FileExistsError:
                info = self._read()
                if info is None:
                    # being written by its creator right now, or garbage: look again shortly
                    time.sleep(0.05)
                    info = self._read()
                if info is not None and info.get("host") == socket.gethostname() \
                        and not _pid_alive(int(info.get("pid", -1))):
                    try:
                        self.lock_path.unlink()  # stale: its owner died
                    except FileNotFoundError:
                        pass
                    continue
                if info is None:
                    holder = "an unknown process (unreadable lock file)"
                else:
                    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("started", 0)))
                    holder = f"PID {info.get('pid')} on {info.get('host')} since {when}"
                raise OutputLockedError(f"{self.path} is being written by {holder} "
                                        f"(lock file {self.lock_path})") from None
            with os.fdopen(fd, "w") as fh:
                json.dump(self._info(), fh)
            OutputLock._held[key] = (os.getpid(), 1)
            return self
        raise OutputLockedError(f"{self.path}: could not take the lock {self.lock_path}")

    def release(self):
        key = str(self.lock_path.resolve())
        pid, depth = OutputLock._held.get(key, (None, 0))
        if pid != os.getpid():
            return
        if depth > 1:
            OutputLock._held[key] = (pid, depth - 1)
            return
        del OutputLock._held[key]
        try:
            self.lock_path.unlink()
        except FileNotFoundError:
            pass

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False


# -- directories (zarr stores) -------------------------------------------------------------
@contextmanager
def atomic_dir(path, replace: bool = False):
    """Yield a temporary directory beside ``path``; rename it to ``path`` if the block succeeds.

    For directory outputs such as zarr stores. An existing ``path`` is refused
    (``FileExistsError``) unless ``replace=True``, which removes it just before the rename.
    On any exception the temporary directory is removed and ``path`` is untouched.
    """
    import shutil

    path = Path(path)
    if path.exists() and not replace:
        raise FileExistsError(f"{path} exists")
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    os.chmod(tmp, umask_mode(0o777))
    try:
        yield tmp
        if replace and path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
