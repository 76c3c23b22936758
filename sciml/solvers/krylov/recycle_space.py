"""The recycled subspace carried from one linear solve to the next.

A :class:`RecycleSpace` holds ``U`` (``(n, k)`` float64, or complex128 for complex systems; the recycled basis) and,
for the operator it was last refreshed with, ``C = A U`` (``(n, k)``). Solvers
call :meth:`RecycleSpace.refresh` with the new system's operator, which recomputes
``C`` (``k`` products with ``A``) only when the operator changed, and store their
harvested vectors back with :meth:`RecycleSpace.update`.

The same object serves :func:`~sciml.solvers.krylov.recycled_cg` (``U`` spans
approximate eigenvectors of the smallest eigenvalues of the preconditioned
operator; ``MU`` optionally keeps the preconditioner images used to rank them) and
:func:`~sciml.solvers.krylov.gcrodr` (``U`` spans harmonic Ritz vectors; the
solver orthonormalises ``C`` itself).
"""
from __future__ import annotations

import numpy as np

__all__ = ["RecycleSpace"]


class RecycleSpace:
    """Recycled subspace ``U`` (``(n, k)``) with its image ``C = A U`` for the current operator.

    Parameters
    ----------
    k : int
        Largest number of vectors kept (``>= 1``).
    U : array ``(n, j)``, optional
        Initial basis (``j <= k``), e.g. approximate eigenvectors known in advance.

    Attributes
    ----------
    U : ndarray ``(n, j)`` or None
    C : ndarray ``(n, j)`` or None -- ``A U`` for the operator of the last :meth:`refresh`.
    MU : ndarray ``(n, j)`` or None -- recycled-CG bookkeeping: ``M^{-1} U`` images
        (``M`` the preconditioner, approximately), used to rank Ritz vectors.
    solves : int -- number of solves that updated this space.
    """

    def __init__(self, k: int = 20, U=None):
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        self.k = int(k)
        self.U = None
        self.C = None
        self.MU = None
        self._op = None
        self.solves = 0
        if U is not None:
            U = _numeric(U)
            if U.ndim == 1:
                U = U[:, None]
            if U.ndim != 2 or U.shape[1] > self.k:
                raise ValueError(f"U must be a 2D array (n, j) with j <= k={self.k}, got shape {U.shape}")
            self.U = U.copy()

    # ------------------------------------------------------------------ queries
    @property
    def dim(self) -> int:
        """Number of vectors currently held (0 when empty)."""
        return 0 if self.U is None else self.U.shape[1]

    @property
    def n(self) -> int | None:
        """Length of the vectors (None when empty)."""
        return None if self.U is None else self.U.shape[0]

    def __len__(self) -> int:
        return self.dim

    def __repr__(self) -> str:
        return f"RecycleSpace(k={self.k}, dim={self.dim}, n={self.n}, solves={self.solves})"

    # ---------------------------------------------------------------- updates
    def check_size(self, n: int) -> None:
        """Raise ValueError when the held vectors do not have length ``n``."""
        if self.U is not None and self.U.shape[0] != n:
            raise ValueError(f"recycle holds vectors of length {self.U.shape[0]}, but the system has n={n}")

    def refresh(self, A, token=None) -> None:
        """Make ``C = A U`` current for operator ``A`` (a LinearOperator or matrix).

        ``token`` identifies the operator; when it equals the one of the previous
        refresh, ``C`` is kept (no products). Without a token ``A`` itself is the key.
        """
        if self.U is None:
            return
        key = A if token is None else token
        if self.C is not None and self._op is not None and self._op is key:
            return
        self.C = _apply_block(A, self.U)
        self._op = key

    def update(self, U, C=None, MU=None, token=None) -> None:
        """Replace the basis by ``U`` (``(n, j)``, ``j <= k``); ``C`` = its image under the operator ``token``."""
        U = _numeric(U)
        if U.ndim != 2 or U.shape[1] > self.k:
            raise ValueError(f"U must be (n, j) with j <= k={self.k}, got {U.shape}")
        self.U = U
        self.C = None if C is None else _numeric(C)
        self.MU = None if MU is None else _numeric(MU)
        self._op = token if C is not None else None
        self.solves += 1

    def clear(self) -> None:
        """Forget the subspace."""
        self.U = self.C = self.MU = None
        self._op = None

    def copy(self) -> RecycleSpace:
        out = RecycleSpace(self.k)
        for name in ("U", "C", "MU"):
            v = getattr(self, name)
            setattr(out, name, None if v is None else v.copy())
        out._op = self._op
        out.solves = self.solves
        return out


def _numeric(X) -> np.ndarray:
    """float64, or complex128 for complex input (the solvers' working precisions)."""
    X = np.asarray(X)
    return X.astype(np.complex128 if np.iscomplexobj(X) else np.float64, copy=False)


def _apply_block(A, X: np.ndarray) -> np.ndarray:
    """``A @ X`` for a LinearOperator / sparse / dense ``A`` and a block ``X`` (n, j)."""
    if hasattr(A, "matmat"):
        return _numeric(A.matmat(X)).reshape(A.shape[0], -1)
    return _numeric(A @ X).reshape(A.shape[0], -1)
