"""The software a result was made with: library versions and the BLAS kernels in use.

Generated data and benchmark results record :func:`software_environment` beside their
parameters. The versions say which code ran; the BLAS entries say which kernels ran it.
OpenBLAS picks its kernels per CPU at load time (``OPENBLAS_CORETYPE`` overrides the choice),
and the summation order of those kernels reaches the last bits of iterative solves: the
darcy recipe's CG solves, for example, give other float64 bits (2e-14 relative, far below the
solver's 1e-10 tolerance) with OpenBLAS's ``SkylakeX`` kernels than with its ``Haswell`` or
``Zen`` ones (docs/reproducibility.md). Two files with equal parameters and seed are the same
bits when these entries agree as well.
"""
from __future__ import annotations

import platform
import sys
from importlib import metadata

__all__ = ["software_environment", "describe_environment"]

#: distributions whose versions change generated numbers or trained weights
PACKAGES = ("numpy", "scipy", "pyamg", "torch", "h5py")


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def blas_libraries() -> list[dict]:
    """The BLAS/OpenMP libraries loaded in this process: ``[{"library", "api", "version", "architecture"}]``.

    ``architecture`` is the kernel family OpenBLAS chose (``Haswell``, ``SkylakeX``, ``Zen``, ...);
    ``library`` the file name. Needs threadpoolctl (a dependency); empty if it is missing.
    """
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover - a dependency
        return []
    out = []
    for info in threadpool_info():
        if info.get("user_api") != "blas":
            continue
        out.append({"library": info.get("filepath", "").rsplit("/", 1)[-1], "api": info.get("internal_api"),
                    "version": info.get("version"), "architecture": info.get("architecture")})
    return sorted(out, key=lambda d: d["library"])


def software_environment() -> dict:
    """``{"python", "platform", "packages": {name: version}, "blas": [...]}`` of this process.

    ``packages`` lists :data:`PACKAGES` (``None`` where not installed); ``blas`` is
    :func:`blas_libraries` after numpy and scipy are imported, so it names their OpenBLAS builds.

    Examples
    --------
    >>> env = software_environment()
    >>> sorted(env), env["packages"]["numpy"] is not None
    (['blas', 'packages', 'platform', 'python'], True)
    """
    import numpy  # noqa: F401  (loads its BLAS, so that it is listed)
    import scipy.linalg  # noqa: F401

    return {"python": platform.python_version(), "platform": f"{sys.platform}-{platform.machine()}",
            "packages": {name: _version(name) for name in PACKAGES}, "blas": blas_libraries()}


def describe_environment(env: dict | None) -> str:
    """One line: ``numpy 2.4.6, scipy 1.17.1, ... ; OpenBLAS 0.3.31 Haswell`` (``"unknown"`` for None)."""
    if not env:
        return "unknown"
    pkgs = ", ".join(f"{k} {v}" for k, v in (env.get("packages") or {}).items() if v)
    kernels = sorted({f"{b.get('api') or 'blas'} {b.get('version')} {b.get('architecture')}"
                      for b in env.get("blas") or []})
    return pkgs + ("; " + ", ".join(kernels) if kernels else "")
