"""Krylov subspace recycling for sequences of related linear systems.

* :func:`recycled_cg` -- deflated/recycled preconditioned CG (SPD), harvesting Ritz vectors.
* :func:`gcrodr` -- GCRO-DR(m, k) (general matrices), carrying a recycled subspace.
* :class:`RecycleSpace` -- the subspace carried from one solve to the next.
* :func:`sort_systems` -- greedy (SKR), KD-tree and Hilbert-curve orderings.
* :func:`solve_sequence` -- sort, route to the fastest exact method, recycle; optional processes.
* :class:`AMGReference` / :class:`AMGVCycle` -- an AMG hierarchy re-used across related SPD matrices.

``recycled_cg`` and ``gcrodr`` follow scipy's calling conventions (``scipy.sparse.linalg.cg`` and
``gmres``): ``x, info = solver(A, b, x0=None, *, rtol, atol, maxiter, M, callback)`` on any
LinearOperator, ``x0`` None / array / ``'Mb'``, convergence ``||b - A x|| <= max(rtol ||b||, atol)``
on the true residual, ``rtol >= 1`` and ``atol = inf`` accepted, an invalid tolerance a
ValueError, ``b = 0`` giving ``x = 0``, real and complex dtypes (Hermitian positive definite for
CG, general for GCRO-DR), the solution returned in the input precision. Differences from scipy,
each documented on the function: ``gcrodr``'s ``callback_type`` defaults to ``"x"`` (scipy:
``"legacy"`` with a DeprecationWarning) and ``max_steps`` bounds the total Arnoldi steps; the
iteration always runs in double precision; the old ``A.psolve`` preconditioner attribute is
not read (pass ``M``).
"""
from .amg_reuse import AMGReference, AMGVCycle
from .gcrodr import gcrodr
from .ordering import path_length, pca_embed, sort_systems
from .recycle_space import RecycleSpace
from .recycled_cg import recycled_cg
from .sequence import classify_systems, solve_sequence

__all__ = ["recycled_cg", "gcrodr", "RecycleSpace", "sort_systems", "solve_sequence", "pca_embed", "path_length",
           "classify_systems", "AMGReference", "AMGVCycle"]
