import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from sciml.pinns.darcy import DarcyResidualLoss, darcy_residual


def _assemble(a, f):
    """Independent 5-point assembly of -div(a grad u) = f, u = 0 on the boundary (harmonic face means)."""
    s = a.shape[0]
    h = 1.0 / (s - 1)
    n = s - 2
    idx = lambda j, i: (j - 1) * n + (i - 1)  # noqa: E731
    hm = lambda p, q: 2 * p * q / (p + q)  # noqa: E731
    A = sp.lil_matrix((n * n, n * n))
    b = np.empty(n * n)
    for j in range(1, s - 1):
        for i in range(1, s - 1):
            k = idx(j, i)
            b[k] = f[j, i]
            for dj, di in ((0, 1), (0, -1), (1, 0), (-1, 0)):
                c = hm(a[j, i], a[j + dj, i + di]) / h ** 2
                A[k, k] += c
                jj, ii = j + dj, i + di
                if 1 <= jj <= s - 2 and 1 <= ii <= s - 2:
                    A[k, idx(jj, ii)] -= c
    return A.tocsr(), b


def _case(s=17, seed=0):
    rng = np.random.default_rng(seed)
    a = np.where(rng.standard_normal((s, s)) > 0, 12.0, 3.0)
    f = 1.0 + rng.random((s, s))
    A, b = _assemble(a, f)
    u = np.zeros((s, s))
    u[1:-1, 1:-1] = spla.spsolve(A, b).reshape(s - 2, s - 2)
    return a, f, u


def test_exact_discrete_solution_has_zero_residual():
    a, f, u = _case()
    t = lambda v: torch.as_tensor(v)[None, None]  # noqa: E731
    r = darcy_residual(t(a), t(u), t(f))
    assert r.shape == (1, 1, 15, 15)
    assert float(r.abs().max()) < 1e-10 * float(np.abs(f).max())
    loss = DarcyResidualLoss(t(f))
    c = loss.components(t(u), t(a), y=t(u))
    assert float(c["physics"]) < 1e-12 and float(c["data"]) == 0 and float(c["boundary"]) == 0
    # perturbing the solution gives a clearly non-zero residual
    up = u.copy()
    up[5, 7] += 1e-3
    assert float(loss(t(up), t(a))) > 1e-3
    assert float(darcy_residual(t(a), t(up), t(f)).abs().max()) > 1.0


def test_matches_sciml_assembly_and_batches():
    from sciml.solvers.elliptic import assemble_darcy

    a, _, _ = _case(s=13, seed=1)
    A, b = assemble_darcy(a, 1.0)
    rng = np.random.default_rng(2)
    u = np.zeros((2, 1, 13, 13))
    u[:, :, 1:-1, 1:-1] = rng.standard_normal((2, 1, 11, 11))
    r = darcy_residual(torch.as_tensor(np.broadcast_to(a, (2, 1, 13, 13)).copy()), torch.as_tensor(u), 1.0)
    for k in range(2):
        np.testing.assert_allclose(r[k, 0].numpy().ravel(), A @ u[k, 0, 1:-1, 1:-1].ravel() - b, rtol=1e-12,
                                   atol=1e-9)


def test_physics_only_training_drives_residual_down():
    """Physics-informed fitting without labels: a free grid field trained on the loss approaches the FD solution."""
    a, f, u_exact = _case(s=9, seed=3)
    at, ft = torch.as_tensor(a)[None, None], torch.as_tensor(f)[None, None]
    u = torch.zeros(1, 1, 9, 9, dtype=torch.float64, requires_grad=True)
    loss = DarcyResidualLoss(ft)
    opt = torch.optim.LBFGS([u], max_iter=100, line_search_fn="strong_wolfe", tolerance_grad=1e-14,
                            tolerance_change=0)

    def closure():
        opt.zero_grad()
        L = loss.components(u, at)["physics"] ** 2
        L.backward()
        return L

    opt.step(closure)
    err = np.abs(u.detach().numpy()[0, 0, 1:-1, 1:-1] - u_exact[1:-1, 1:-1]).max() / np.abs(u_exact).max()
    assert err < 1e-6


def test_errors():
    x = torch.ones(1, 1, 5, 5)
    with pytest.raises(ValueError, match="shape"):
        darcy_residual(torch.ones(1, 5, 5), x)
    with pytest.raises(ValueError, match="mean"):
        darcy_residual(x, x, mean="geometric")
    with pytest.raises(TypeError, match="torch tensor"):
        darcy_residual(np.ones((1, 1, 5, 5)), x)
    with pytest.raises(ValueError, match="y must"):
        DarcyResidualLoss()(x, x, torch.ones(1, 1, 4, 4))
