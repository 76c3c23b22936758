"""Krylov subspace recycling for sequences of related linear systems.

* :func:`recycled_cg` -- deflated/recycled preconditioned CG (SPD), harvesting Ritz vectors.
* :func:`gcrodr` -- GCRO-DR(m, k) (general matrices), carrying a recycled subspace.
* :class:`RecycleSpace` -- the subspace carried from one solve to the next.
* :func:`sort_systems` -- greedy (SKR), KD-tree and Hilbert-curve orderings.
* :func:`solve_sequence` -- sort, route to the fastest exact method, recycle; optional processes.
"""
from .gcrodr import gcrodr
from .ordering import path_length, pca_embed, sort_systems
from .recycle_space import RecycleSpace
from .recycled_cg import recycled_cg
from .amg_reuse import AMGReference, AMGVCycle
from .sequence import classify_systems, solve_sequence

__all__ = ["recycled_cg", "gcrodr", "RecycleSpace", "sort_systems", "solve_sequence", "pca_embed", "path_length",
           "classify_systems", "AMGReference", "AMGVCycle"]
