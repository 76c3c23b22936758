"""Physics-informed Darcy loss for neural operators on the unit-square node grid.

``-div(a grad u) = f`` on ``(0, 1)^2``, ``u = 0`` on the boundary, discretised exactly as
:func:`sciml.solvers.elliptic.assemble_darcy`: nodes ``x_i = i / (s - 1)`` (boundary
included), 5-point stencil, face coefficients the harmonic (default) or arithmetic mean
of the two nodes. For an interior node ``(j, i)`` (row j = y, column i = x)::

    r = [ a_e (u_c - u_e) + a_w (u_c - u_w) + a_n (u_c - u_n) + a_s (u_c - u_s) ] / h^2 - f

so the exact discrete solution has ``r = 0`` to round-off. Tensors are channel-first
``(B, 1, s, s)``; they keep the caller's dtype and device and stay differentiable.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["darcy_residual", "DarcyResidualLoss"]

_MEANS = ("harmonic", "arithmetic")


def _check(a, u):
    for name, v in (("a", a), ("u", u)):
        if not isinstance(v, torch.Tensor):
            raise TypeError(f"{name} must be a torch tensor, got {type(v).__name__}")
        if v.ndim != 4 or v.shape[1] != 1 or v.shape[2] != v.shape[3]:
            raise ValueError(f"{name} must have shape (B, 1, s, s), got {tuple(v.shape)}")
        if v.shape[2] < 3:
            raise ValueError(f"{name} needs s >= 3 grid nodes, got {v.shape[2]}")
    if a.shape != u.shape:
        raise ValueError(f"a and u must have the same shape, got {tuple(a.shape)} and {tuple(u.shape)}")


def darcy_residual(a: torch.Tensor, u: torch.Tensor, f=1.0, *, mean: str = "harmonic",
                   enforce_boundary: bool = True) -> torch.Tensor:
    """5-point residual ``-div(a grad u) - f`` at the interior nodes, ``(B, 1, s-2, s-2)``.

    a: ``(B, 1, s, s)`` positive coefficient; u: ``(B, 1, s, s)`` prediction; f: scalar or
    ``(B, 1, s, s)`` / ``(1, 1, s, s)`` source. With ``enforce_boundary`` the boundary nodes of
    ``u`` are replaced by 0 (the Dirichlet data), so only the interior prediction matters;
    otherwise the predicted boundary values enter the stencil as they are.
    """
    _check(a, u)
    if mean not in _MEANS:
        raise ValueError(f"mean must be one of {_MEANS}, got {mean!r}")
    s = u.shape[-1]
    h2 = (1.0 / (s - 1)) ** 2
    if enforce_boundary:
        mask = torch.zeros_like(u)
        mask[..., 1:-1, 1:-1] = 1.0
        u = u * mask
    if mean == "harmonic":
        ax = 2 * a[..., :, :-1] * a[..., :, 1:] / (a[..., :, :-1] + a[..., :, 1:])
        ay = 2 * a[..., :-1, :] * a[..., 1:, :] / (a[..., :-1, :] + a[..., 1:, :])
    else:
        ax = 0.5 * (a[..., :, :-1] + a[..., :, 1:])
        ay = 0.5 * (a[..., :-1, :] + a[..., 1:, :])
    fx = ax * (u[..., :, 1:] - u[..., :, :-1])  # flux a u_x * h on x-faces, (B,1,s,s-1)
    fy = ay * (u[..., 1:, :] - u[..., :-1, :])  # (B,1,s-1,s)
    div = (fx[..., 1:-1, 1:] - fx[..., 1:-1, :-1]) + (fy[..., 1:, 1:-1] - fy[..., :-1, 1:-1])
    if isinstance(f, torch.Tensor):
        if f.ndim != 4 or f.shape[-2:] != u.shape[-2:]:
            raise ValueError(f"f must be a scalar or (B, 1, s, s), got {tuple(f.shape)}")
        f = f[..., 1:-1, 1:-1]
    return -div / h2 - f


class DarcyResidualLoss(nn.Module):
    """Physics-informed loss for Darcy operators, with or without labels.

    ``loss = physics_weight * mean_b ||r_b|| / ||f_b|| + boundary_weight * mean(u_boundary^2)
    + data_weight * mean_b ||u_b - y_b|| / ||y_b||``, norms over interior nodes.

    Parameters
    ----------
    f : float or torch.Tensor, optional
        Source, a scalar or a tensor ``(1|B, 1, s, s)``; default 1 (FNO recipe).
    mean : {"harmonic", "arithmetic"}, optional
        Face average of the coefficient (``"harmonic"``, as the data generator).
    physics_weight, data_weight, boundary_weight : float, optional
        Non-negative weights of the three terms.
    enforce_boundary : bool, optional
        Evaluate the stencil with the prediction's boundary set to 0; the boundary term then
        drives the predicted boundary to 0 as well.

    Notes
    -----
    Call as ``loss(u_pred, a, y=None)`` with ``u_pred``, ``a`` (and ``y``) ``(B, 1, s, s)`` on
    the unit square (nodes including the boundary); returns a scalar tensor.

    Examples
    --------
    >>> import torch
    >>> x = torch.linspace(0, 1, 17, dtype=torch.float64)
    >>> X, Y = torch.meshgrid(x, x, indexing="ij")
    >>> u = (X * (1 - X) * Y * (1 - Y))[None, None]   # zero on the boundary, not a solution
    >>> a = torch.ones_like(u)
    >>> DarcyResidualLoss()(u, a)
    tensor(0.3444, dtype=torch.float64)
    """

    def __init__(self, f=1.0, *, mean: str = "harmonic", physics_weight: float = 1.0, data_weight: float = 1.0,
                 boundary_weight: float = 1.0, enforce_boundary: bool = True):
        super().__init__()
        if mean not in _MEANS:
            raise ValueError(f"mean must be one of {_MEANS}, got {mean!r}")
        for name, w in (("physics_weight", physics_weight), ("data_weight", data_weight),
                        ("boundary_weight", boundary_weight)):
            if not w >= 0:
                raise ValueError(f"{name} must be >= 0, got {w!r}")
        self.f, self.mean = f, mean
        self.physics_weight, self.data_weight, self.boundary_weight = physics_weight, data_weight, boundary_weight
        self.enforce_boundary = enforce_boundary

    def components(self, u: torch.Tensor, a: torch.Tensor, y: torch.Tensor | None = None) -> dict:
        """The unweighted parts ``{"physics", "boundary"[, "data"]}`` (scalar tensors)."""
        r = darcy_residual(a, u, self.f, mean=self.mean, enforce_boundary=self.enforce_boundary)
        B = u.shape[0]
        if isinstance(self.f, torch.Tensor):
            fin = self.f[..., 1:-1, 1:-1].expand_as(r)
        else:
            fin = torch.full_like(r, float(self.f))
        fn = fin.reshape(B, -1).norm(dim=1).clamp_min(torch.finfo(r.dtype).tiny)
        out = {"physics": (r.reshape(B, -1).norm(dim=1) / fn).mean()}
        edge = torch.ones_like(u, dtype=torch.bool)
        edge[..., 1:-1, 1:-1] = False
        out["boundary"] = (u[edge] ** 2).mean()
        if y is not None:
            if y.shape != u.shape:
                raise ValueError(f"y must have the shape of u {tuple(u.shape)}, got {tuple(y.shape)}")
            d = (u - y)[..., 1:-1, 1:-1].reshape(B, -1).norm(dim=1)
            out["data"] = (d / y[..., 1:-1, 1:-1].reshape(B, -1).norm(dim=1).clamp_min(1e-30)).mean()
        return out

    def forward(self, u: torch.Tensor, a: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        c = self.components(u, a, y)
        loss = self.physics_weight * c["physics"] + self.boundary_weight * c["boundary"]
        if y is not None:
            loss = loss + self.data_weight * c["data"]
        return loss
