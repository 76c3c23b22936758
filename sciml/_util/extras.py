"""Optional dependencies: import one, or say which extra installs it.

Heavy dependencies with a narrow use are optional extras of the ``sciml`` distribution
(``pyproject.toml``, ``[project.optional-dependencies]``). The code that needs one imports
it through :func:`require` at the point of use, so ``import sciml`` and every other feature
work without it, and a user who calls the feature learns which extra to install.
"""
from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require"]


def require(module: str, extra: str, feature: str | None = None) -> ModuleType:
    """Import ``module``; if it is not installed, raise an ImportError naming the extra.

    Parameters
    ----------
    module : str
        Dotted module name, e.g. ``"dask.distributed"``.
    extra : str
        The sciml extra that installs it, e.g. ``"dask"`` (``pip install 'sciml[dask]'``).
    feature : str, optional
        What needs it, in words, for the message (default: the module name).

    Returns
    -------
    types.ModuleType
        The imported module.

    Raises
    ------
    ModuleNotFoundError
        When ``module`` or one of its dependencies is not installed; the message names the
        feature, the package and the extra. Any other ImportError (a broken build, a missing
        system library) propagates unchanged: installing the extra would not fix it.

    Examples
    --------
    >>> require("json", "none").dumps([1])
    '[1]'
    >>> require("sciml_no_such_module", "dask", "the Dask executor")
    Traceback (most recent call last):
    ...
    ModuleNotFoundError: the Dask executor needs 'sciml_no_such_module', ... pip install 'sciml[dask]'
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = exc.name or module
        what = feature or module
        why = "" if module == missing or module.startswith(missing + ".") else f" ({exc})"
        raise ModuleNotFoundError(
            f"{what} needs {module.split('.')[0]!r}, which is not installed{why}; install the "
            f"{extra!r} extra: pip install 'sciml[{extra}]'", name=missing) from exc
