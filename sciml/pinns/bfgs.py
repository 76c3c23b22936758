"""Dense (self-scaled) BFGS for small networks, the optimiser that takes PINNs to high accuracy.

L-BFGS keeps a few dozen curvature pairs; a PINN of a few thousand parameters can afford the
whole inverse-Hessian approximation (3 021 parameters: a 73 MB float64 matrix), and that
matters late in training, where the loss is ill-conditioned and the limited memory forgets
the directions it needs (Urbán, Stefanou & Pons 2025, "Unveiling the optimization process of
PINNs"; Kiyani et al. 2025, "Optimizing the optimizer for PINNs and KANs").

``scipy.optimize.minimize(method="BFGS")`` has the algorithm but updates the matrix with two
dense ``n x n`` products per iteration (O(n^3): ~1 s at n = 3 000, more than the loss itself), so the
update here is the O(n^2) rank-two form, done in torch. The line search is scipy's strong-Wolfe
search (:func:`scipy.optimize.line_search`).

Update of the inverse-Hessian approximation ``H`` with ``s = x+ - x``, ``y = g+ - g``,
``a = y.s``, ``u = H y``, ``c = y.u``::

    H+ = (1 / tau) (H - (s u^T + u s^T) / a + c s s^T / a^2) + s s^T / a

``tau = 1`` is BFGS. ``self_scaling=True`` uses Al-Baali's restricted self-scaling
``tau = min(1, 1 / b)``, ``b = s^T B s / a = -alpha g.s / a`` (``B = H^-1``; ``s = alpha p``, ``p = -H g``):
when the model overestimates the curvature along the step, the old part of the matrix is
enlarged before the update. The first update starts from ``H0 = (a / y.y) I`` (Nocedal & Wright 6.20).
Pairs with ``a <= 1e-14 |s| |y|`` (no positive curvature, a failed Wolfe step) are skipped.
"""
from __future__ import annotations

import math
import warnings
from typing import Callable

import numpy as np
import torch
from scipy.optimize import line_search

__all__ = ["DenseBFGS"]


class DenseBFGS:
    """Dense BFGS on a function of a flat float64 vector.

    Parameters
    ----------
    fun_and_grad : callable
        ``f(x) -> (value, gradient)`` with ``x`` a 1D float64 ``torch.Tensor`` of size ``n``;
        ``value`` a float, ``gradient`` a tensor like ``x``.
    x0 : torch.Tensor
        The start, shape ``(n,)``.
    self_scaling : bool, optional
        Al-Baali's restricted self-scaling (see the module docstring).
    c1, c2 : float, optional
        Wolfe constants (sufficient decrease, curvature), ``0 < c1 < c2 < 1``.
    max_line_search : int, optional
        Iterations of one line search.

    Notes
    -----
    :meth:`step` runs iterations; the state (``x``, ``H``, the last value and gradient) persists
    between calls, so a run can be split into chunks for progress reports.

    Examples
    --------
    >>> A = torch.tensor([[3.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
    >>> b = torch.tensor([1.0, -1.0], dtype=torch.float64)
    >>> opt = DenseBFGS(lambda x: (float(0.5 * x @ A @ x - b @ x), A @ x - b), torch.zeros(2, dtype=torch.float64))
    >>> _ = opt.step(20)                      # stops once round-off is reached
    >>> bool(torch.allclose(opt.x, torch.linalg.solve(A, b), atol=1e-10))
    True
    """

    def __init__(self, fun_and_grad: Callable, x0: torch.Tensor, *, self_scaling: bool = True, c1: float = 1e-4,
                 c2: float = 0.9, max_line_search: int = 20):
        if not 0 < c1 < c2 < 1:
            raise ValueError(f"need 0 < c1 < c2 < 1, got c1={c1}, c2={c2}")
        x0 = torch.as_tensor(x0)
        if x0.ndim != 1:
            raise ValueError(f"x0 must be 1D, got shape {tuple(x0.shape)}")
        self.fun_and_grad = fun_and_grad
        self.self_scaling, self.c1, self.c2 = bool(self_scaling), float(c1), float(c2)
        self.max_line_search = int(max_line_search)
        self.x = x0.detach().to(torch.float64).clone()
        self.n = self.x.numel()
        self.H: torch.Tensor | None = None  # created at the first update, scaled identity
        self.f, self.g = None, None
        self.old_f = None
        self.iterations = self.evaluations = self.skipped = self.resets = 0
        self._cache = {}

    # evaluations are memoised on the point: scipy asks for value and gradient separately
    def _eval(self, x_np: np.ndarray):
        key = x_np.tobytes()
        if key not in self._cache:
            f, g = self.fun_and_grad(torch.from_numpy(np.array(x_np, dtype=np.float64)))
            self.evaluations += 1
            self._cache = {key: (float(f), g.detach().to(torch.float64).reshape(-1).clone())}
        return self._cache[key]

    def _direction(self):
        return -self.g if self.H is None else -(self.H @ self.g)

    def step(self, iterations: int) -> str:
        """Run up to ``iterations`` iterations. Returns ``""`` or the reason it stopped early."""
        if self.f is None:
            self.f, self.g = self._eval(self.x.numpy())
        for _ in range(int(iterations)):
            if not math.isfinite(self.f):
                return "non-finite loss"
            if float(self.g.norm()) == 0.0:
                return "zero gradient"
            p = self._direction()
            if float(p @ self.g) >= 0:  # not a descent direction (round-off in H): restart from a scaled identity
                self.H, p = None, -self.g
                self.resets += 1
            alpha, newton_like = self._line_search(p), self.H is not None
            if alpha is None and self.H is not None:
                p, newton_like = -self.g, False  # keep the matrix; a gradient step still gives a curvature pair
                alpha = self._line_search(p)
            if alpha is None:
                return "no decrease found by the line search (round-off level reached)"
            s = alpha * p
            x_new = self.x + s
            f_new, g_new = self._eval(x_new.numpy())
            y = g_new - self.g
            self._update(s, y, alpha, newton_like)
            self.old_f, self.f, self.g, self.x = self.f, f_new, g_new, x_new
            self.iterations += 1
        return ""

    def _line_search(self, p):
        old_old = self.old_f if self.old_f is not None else self.f + float(self.g.norm()) / 2
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "The line search algorithm did not converge")
            alpha, *_ = line_search(lambda z: self._eval(z)[0], lambda z: self._eval(z)[1].numpy(), self.x.numpy(),
                                    p.numpy(), self.g.numpy(), self.f, old_old, c1=self.c1, c2=self.c2,
                                    maxiter=self.max_line_search)
        return alpha

    def _update(self, s, y, alpha, newton_like=True):
        a = float(y @ s)
        if not a > 1e-14 * float(s.norm()) * float(y.norm()):
            self.skipped += 1
            return
        first = self.H is None
        if first:
            self.H = torch.eye(self.n, dtype=torch.float64) * (a / float(y @ y))
        H = self.H
        u = H @ y
        c = float(y @ u)
        if self.self_scaling and newton_like and not first:
            b = -alpha * float(self.g @ s) / a  # s^T B s / a, with B s = -alpha g
            tau = min(1.0, 1.0 / b) if b > 0 else 1.0
        else:
            tau = 1.0
        # H <- (1/tau) (H - (s u^T + u s^T)/a + c s s^T / a^2) + s s^T / a, in place (rank-two updates)
        H.addr_(s, u, alpha=-1.0 / a).addr_(u, s, alpha=-1.0 / a)
        H.addr_(s, s, alpha=c / a ** 2)
        if tau != 1.0:
            H.mul_(1.0 / tau)
        H.addr_(s, s, alpha=1.0 / a)
