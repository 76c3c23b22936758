"""A catalogue of small linear systems for checking the Krylov solvers against scipy's conventions.

The classes of matrices follow the ones scipy's own iterative-solver tests exercise
(symmetric positive definite, negative definite, symmetric indefinite, nonsymmetric,
complex Hermitian / non-Hermitian, a saddle point, singular but consistent, 1 x 1), each in
double and, where it makes sense, single precision. The matrices themselves are built here.

Every :class:`Case` carries tags; a solver is run on a case when the case has the property
the solver needs (``hpd`` for CG, anything for GCRO-DR and :func:`solve_sequence`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

SINGLE = (np.float32, np.complex64)


@dataclass
class Case:
    name: str
    A: object
    b: np.ndarray
    tags: frozenset = field(default_factory=frozenset)

    @property
    def dtype(self):
        return np.result_type(self.A.dtype, self.b.dtype)

    @property
    def single(self) -> bool:
        return self.dtype in SINGLE

    @property
    def rtol(self) -> float:
        """The tolerance a solver must reach: 1e-8 in double precision, 1e-2 in single."""
        return 1e-2 if self.single else 1e-8

    def __repr__(self):
        return self.name


def _laplace_1d(n):
    e = np.ones(n)
    return sp.diags([-e[:-1], 2.0 * e, -e[:-1]], [-1, 0, 1], format="csr")


def _cases():
    out = []

    def add(name, A, b=None, tags=(), single=True):
        n = A.shape[0]
        b = np.linspace(0.5, 2.0, n) if b is None else np.asarray(b)
        out.append(Case(name, A, b.astype(np.result_type(b.dtype, np.float64)), frozenset(tags)))
        if single:
            lo = np.complex64 if np.iscomplexobj(A) else np.float32
            bl = b.astype(np.complex64 if np.iscomplexobj(b) else np.float32)
            out.append(Case(name + "-f32", A.astype(lo), bl, frozenset(tags)))

    rng = np.random.default_rng(20240611)
    L1 = _laplace_1d(32)
    add("spd-laplace1d", L1, tags={"hpd", "real"})
    L24 = _laplace_1d(24)
    add("spd-laplace2d", (sp.kron(sp.identity(24), L24) + sp.kron(L24, sp.identity(24))).tocsr(),
        tags={"hpd", "real", "poisson"})
    R = rng.standard_normal((8, 8))
    add("spd-dense", R @ R.T + 0.5 * np.eye(8), tags={"hpd", "real"})
    add("neg-definite", -L1, tags={"real"})
    add("sym-indefinite-diag", sp.diags([np.array([5.0, -4, 3, 8, -2, 9, 1.5, -6, -7, 2.5])], [0], format="csr"),
        tags={"real"})
    S = rng.standard_normal((5, 5))
    add("sym-indefinite-dense", S + S.T, tags={"real"})
    add("nonsym-dense", rng.standard_normal((5, 5)) + 3.0 * np.eye(5), tags={"real"})
    add("nonsym-bidiagonal", sp.diags([3.0 * np.ones(12), -np.ones(11)], [0, -1], format="csr"), tags={"real"})
    Z = rng.standard_normal((5, 5)) + 1j * rng.standard_normal((5, 5))
    add("complex-general", Z + 3.0 * np.eye(5), tags={"complex"})
    add("complex-hermitian-indefinite", Z + Z.conj().T, tags={"complex"})
    W = rng.standard_normal((8, 8)) + 1j * rng.standard_normal((8, 8))
    add("complex-hpd", W @ W.conj().T + 0.5 * np.eye(8), tags={"hpd", "complex"})
    # saddle point [[0, B^T], [B, -I]]-like symmetric indefinite system with a zero (1,1) block
    B = np.zeros((6, 5))
    B[0, :] = [1, 2, 2, 2, 1]
    B[1:, :] = -np.eye(5)
    K = np.zeros((11, 11))
    K[:5, 5:] = B.T
    K[5:, :5] = B
    K[5:, 5:] = -np.eye(6)
    K[5, 5] = 0.0
    b = np.zeros(11)
    b[5] = 1.0
    add("saddle-point", K, b, tags={"real"}, single=False)
    # singular, consistent: Neumann Laplacian (null space: constants), b orthogonal to it
    N = _laplace_1d(16).tolil()
    N[0, 0] = N[-1, -1] = 1.0
    bs = np.linspace(-1.0, 1.0, 16) ** 3  # zero mean, not an eigenvector
    add("singular-consistent", N.tocsr(), bs, tags={"hpd", "real", "singular"}, single=False)
    add("tiny-1x1", np.array([[3.0]]), np.array([2.0]), tags={"hpd", "real", "tiny"})
    return out


CASES = _cases()


def applicable(solver_name: str, case: Case) -> bool:
    if solver_name == "recycled_cg":
        return "hpd" in case.tags
    return True


def residual(A, x, b) -> float:
    return float(np.linalg.norm(np.asarray(b, dtype=np.complex128) - A @ np.asarray(x, dtype=np.complex128)))
