"""Small test problems for the Krylov solvers (5-point variable-coefficient operators)."""
import numpy as np
import pytest
import scipy.sparse as sp


def diffusion_matrix(a):
    """-div(a grad u) on the interior of an (s, s) node grid, zero Dirichlet, harmonic face means."""
    from sciml.solvers.elliptic import assemble_darcy

    return assemble_darcy(a)[0]


def convection_diffusion(m, w, shift=0.0):
    """-Laplace u + w d/dx u - shift u on an m x m interior grid (central differences), CSR."""
    h = 1.0 / (m + 1)
    e = np.ones(m)
    T = sp.diags([-e[:-1], 2 * e, -e[:-1]], [-1, 0, 1]) / h**2
    D = sp.diags([-e[:-1], e[:-1]], [-1, 1]) / (2 * h)
    Id = sp.identity(m)
    return (sp.kron(Id, T) + sp.kron(T, Id) + w * sp.kron(Id, D) - shift * sp.identity(m * m)).tocsr()


@pytest.fixture
def smooth_fields():
    """A base lognormal field and small perturbations of it, (s, s) each (related SPD systems)."""
    rng = np.random.default_rng(1)
    s = 34
    base = np.exp(rng.standard_normal((s, s)))
    return [base * np.exp(0.05 * rng.standard_normal((s, s))) for _ in range(6)]
