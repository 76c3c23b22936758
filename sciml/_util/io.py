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
           "OutputLockedError", "umask_mode", "atomic_dir", "file_kind", "check_output", "lock_outputs",
           "remove_empty_tree"]


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


# ----------------------------------------------------------------------------- output checks
_MAGIC = ((b"\x89HDF\r\n\x1a\n", "hdf5"), (b"\x89PNG\r\n\x1a\n", "png"), (b"%PDF", "pdf"),
          (b"\xff\xd8\xff", "jpeg"), (b"PK\x03\x04", "zip"), (b"\x93NUMPY", "npy"), (b"CDF\x01", "netcdf3"),
          (b"CDF\x02", "netcdf3"))

#: the kinds a file suffix stands for (what :func:`check_output` expects to replace)
SUFFIX_KINDS = {".h5": ("hdf5",), ".hdf5": ("hdf5",), ".nc": ("hdf5", "netcdf3"), ".png": ("png",),
                ".pdf": ("pdf",), ".svg": ("svg",), ".jpg": ("jpeg",), ".jpeg": ("jpeg",), ".json": ("json",),
                ".md": ("text",), ".txt": ("text",), ".pt": ("zip",), ".pth": ("zip",), ".npz": ("zip",)}


def file_kind(path) -> str | None:
    """What an existing file holds, from its first bytes: ``"hdf5"``, ``"png"``, ``"pdf"``,
    ``"jpeg"``, ``"zip"`` (torch ``.pt``, ``.npz``), ``"npy"``, ``"netcdf3"``, ``"json"``, ``"svg"``,
    ``"text"``, ``"binary"``; ``None`` for an empty file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "r.json"
    >>> _ = p.write_text('{"a": 1}')
    >>> file_kind(p)
    'json'
    """
    with open(path, "rb") as fh:
        head = fh.read(1024)
    if not head:
        return None
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if b"\x89HDF\r\n\x1a\n" in head[:1024]:  # HDF5 with a user block
        return "hdf5"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        try:
            head[:-4].decode("utf-8")  # a multi-byte character cut at 1024
            text = head[:-4].decode("utf-8")
        except UnicodeDecodeError:
            return "binary"
    s = text.lstrip()
    if s[:1] in "{[":
        return "json"
    if s.startswith("<?xml") or s.startswith("<svg"):
        return "svg"
    return "text"


def check_output(path, *, name: str = "--out", inputs=(), overwrite: bool = False, kinds=None,
                 directory: bool = False, exist_ok: bool = False) -> Path:
    """Refuse an output that would destroy data; return ``path`` (symlinks resolved).

    Checked before any work: the parent folder exists; the output is not one of ``inputs``
    (compared after resolving symlinks, and never inside an input folder); an existing file is
    never replaced by a file of another kind (an HDF5 store where a PNG goes), even with
    ``overwrite``; an existing output (a file, or a folder that is not empty) is refused unless
    ``overwrite`` (or ``exist_ok``: the caller resumes or checks it itself, e.g. a generation run).

    Parameters
    ----------
    path : str or Path
        The output file, or folder (``directory=True``).
    name : str
        The option or argument named in messages.
    inputs : iterable of paths
        Files or folders the same command reads.
    overwrite : bool
        An existing output of the right kind may be replaced.
    kinds : tuple of str, optional
        :func:`file_kind` values an existing file may have (default: from the suffix via
        :data:`SUFFIX_KINDS`; unknown suffix: any kind but those of known data files).
    directory : bool
        The output is a folder.
    exist_ok : bool
        An existing output (of the right kind) is not an error.

    Raises
    ------
    FileNotFoundError, ValueError, FileExistsError, IsADirectoryError, NotADirectoryError
        Each naming ``name`` and the path.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "fig.png").write_bytes(b"\\x89HDF\\r\\n\\x1a\\n")
    >>> check_output(d / "fig.png", overwrite=True)
    Traceback (most recent call last):
    ...
    ValueError: --out ... holds HDF5 data, not png: refusing to replace it
    """
    raw = Path(path)
    if str(raw) == "" or raw.name in ("", ".", ".."):
        raise ValueError(f"{name} must name a {'folder' if directory else 'file'}, got {str(path)!r}")
    p = raw.resolve()
    if not p.parent.is_dir():
        raise FileNotFoundError(f"{name}: parent directory {raw.parent} does not exist")
    for inp in inputs:
        if inp is None:
            continue
        q = Path(inp).resolve()
        if p == q:
            raise ValueError(f"{name} {raw} is also an input of this command: refusing to overwrite it")
        if q.is_dir() and not directory and q in p.parents and p.suffix.lower() in (".json",) \
                and any(q.glob("*.json")):
            raise ValueError(f"{name} {raw} lies in the input folder {inp}, among the files it reads: "
                             f"write it elsewhere")
    if not (p.exists() or p.is_symlink()):
        return p
    if directory:
        if not p.is_dir():
            raise NotADirectoryError(f"{name} must be a folder, but {raw} is a file")
        if not any(p.iterdir()):
            return p  # an empty folder holds nothing to lose
    else:
        if p.is_dir():
            raise IsADirectoryError(f"{name} {raw} is a folder; give a file name")
        allowed = tuple(kinds) if kinds is not None else SUFFIX_KINDS.get(p.suffix.lower())
        kind = file_kind(p)
        data_kinds = {"hdf5", "zip", "npy", "netcdf3", "png", "pdf", "jpeg"}
        bad = (kind is not None and allowed is not None and kind not in allowed) or \
              (allowed is None and kind in data_kinds)
        if bad:
            label = {"hdf5": "HDF5 data", "zip": "a zip archive (torch/npz)", "npy": "a numpy array",
                     "netcdf3": "netCDF data"}.get(kind, f"{kind} data")
            want = "/".join(allowed) if allowed else "that"
            raise ValueError(f"{name} {raw} holds {label}, not {want}: refusing to replace it")
    if exist_ok or overwrite:
        return p
    what = "folder" if directory else "file"
    raise FileExistsError(f"{name} {raw}: the {what} exists; pass --overwrite to replace it")


@contextmanager
def lock_outputs(*paths):
    """Hold an :class:`OutputLock` on every path (``None`` skipped) for the block.

    An ``OSError`` that leaves the block without a file name (a write that found the disk
    full) gets the outputs as its ``filename``, so the one-line message names them.
    """
    from contextlib import ExitStack

    paths = [p for p in paths if p is not None]
    try:
        with ExitStack() as stack:
            for p in paths:
                stack.enter_context(OutputLock(p))
            yield
    except OSError as exc:
        if exc.filename is None and exc.errno is not None and exc.strerror and paths:
            exc.filename = ", ".join(map(str, paths))
        raise


def remove_empty_tree(path) -> bool:
    """Remove folder ``path`` if it holds no file at any depth (a failed run's leftovers)."""
    import shutil

    p = Path(path)
    if not p.is_dir() or any(q.is_file() or q.is_symlink() for q in p.rglob("*")):
        return False
    shutil.rmtree(p, ignore_errors=True)
    return True
