"""Synthetic CarbonBench: the classical CO2 model written in the published store schema.

:func:`generate_carbonbench` advances :class:`sciml.solvers.atmosphere.CO2TransportModel` every
6 h and records every step into the split stores of :mod:`.schema`, then the ``_stats`` stores.
It is resumable per year: each finished year is committed to the split's in-progress store
together with a float64 restart state, and a rerun with the same arguments skips finished years
and completed splits. Written as zarr format 2 (like the published stores).

Examples
--------
>>> import tempfile
>>> res = generate_carbonbench(tempfile.mkdtemp(), grid="latlon22.5", levels=2, years=(2000, 2000),
...                            days_per_year=1, progress=False)
>>> sorted(k for k in res if k != "seconds")
['train', 'train_stats']
"""
from __future__ import annotations

import json
import re
import shutil
import time as _time
from pathlib import Path

import numpy as np

from ..._util.io import OutputLock, atomic_dir, atomic_path, write_text
from ..._util.progress import progress as _progress
from ..._util.validation import check_bool, check_choice, check_int
from ...grids import LatLonGrid
from ...solvers.atmosphere import CO2TransportModel
from ...solvers.transport import LIMITERS
from .schema import (_HOURS_EPOCH, UNITS, VARIABLES_2D, VARIABLES_3D, _check_split,
                     _days_in_year, _seconds_since_2000, default_splits, stats_path, store_path)
from .stats import compute_stats, copy_store, write_stats

__all__ = ["generate_carbonbench", "generate_tiny_carbonbench", "parse_years", "parse_splits"]


class _Simulator(CO2TransportModel):
    """The model plus the packing of one recorded step into the two store arrays."""

    def record(self, t: float, r: np.ndarray):
        s = self.state(t, r)
        x3 = np.stack([s[k] for k in VARIABLES_3D]).astype(np.float32)
        x2 = np.stack([s[k] for k in VARIABLES_2D]).astype(np.float32)
        return x3, x2, (s["co2flux_land"], s["co2flux_ocean"], s["co2flux_anthro"]), s["_air_mass_kg"]


# ------------------------------------------------------------------------------ arguments
def parse_years(years, name: str = "years") -> tuple[int, int]:
    """``(first, last)`` from a pair or a text ``"2000-2003"`` / ``"2005"``; ValueError naming ``name``."""
    if isinstance(years, str):
        m = re.fullmatch(r"\s*(\d{4})\s*(?:-\s*(\d{4}))?\s*", years)
        if not m:
            raise ValueError(f"{name} must look like 2000-2003 or 2005, got {years!r}")
        y0, y1 = int(m.group(1)), int(m.group(2) or m.group(1))
    else:
        try:
            y0, y1 = years
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a pair (first, last) or text like 2000-2003, got {years!r}") from None
        y0, y1 = check_int(y0, f"{name}[0]"), check_int(y1, f"{name}[1]")
    if y1 < y0:
        raise ValueError(f"{name} must be increasing, got {years!r}")
    if not 1900 <= y0 <= y1 <= 2200:
        raise ValueError(f"{name} must lie in 1900..2200, got {years!r}")
    return y0, y1


def parse_splits(splits) -> dict:
    """``{split: (first, last)}`` from a mapping or a text ``"train=2000-2001,val=2002,test=2003"``."""
    if isinstance(splits, str):
        out = {}
        for part in splits.split(","):
            if "=" not in part:
                raise ValueError(f"splits must look like train=2000-2001,val=2002,test=2003, got {splits!r}")
            k, v = part.split("=", 1)
            out[k.strip()] = parse_years(v, f"splits[{k.strip()!r}]")
        return out
    if not hasattr(splits, "items"):
        raise TypeError(f"splits must be a mapping {{split: (first, last)}} or text, got {splits!r}")
    return {k: parse_years(v, f"splits[{k!r}]") for k, v in dict(splits).items()}


def _validate(out, grid, levels, years, splits, seed, days_per_year, limiter, chunk_time, block_days, progress,
              overwrite, resume):
    if out is None or not isinstance(out, (str, Path)) or str(out) == "":
        raise TypeError(f"out must be a directory path, got {out!r}")
    root = Path(out)
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(f"out {root} exists and is not a directory (it will hold Carbontracker/)")
    levels = check_int(levels, "levels", min=1, max=200)
    g = LatLonGrid.from_name(grid, levels)
    seed = check_int(seed, "seed", min=0)
    y0, y1 = parse_years(years)
    splits = default_splits((y0, y1)) if splits is None else parse_splits(splits)
    year_split = {}
    for k, (a, b) in splits.items():
        _check_split(k)
        for y in range(a, b + 1):
            if y in year_split:
                raise ValueError(f"year {y} is in two splits ({year_split[y]!r} and {k!r})")
            year_split[y] = k
    outside = sorted(y for y in year_split if not y0 <= y <= y1)
    if outside or not year_split:
        raise ValueError(f"splits {splits} must lie within years {y0}..{y1} (outside: {outside})")
    if days_per_year is not None:
        days_per_year = check_int(days_per_year, "days_per_year", min=1, max=365)
    check_choice(limiter, "limiter", LIMITERS)
    check_choice(chunk_time, "chunk_time", (1, 2, 4))
    block_days = check_int(block_days, "block_days", min=1)
    for flag, name in ((progress, "progress"), (overwrite, "overwrite"), (resume, "resume")):
        if flag is not None:
            check_bool(flag, name)
    return root, g, seed, (y0, y1), splits, year_split, days_per_year, block_days


# ------------------------------------------------------------------------------ generation
def generate_carbonbench(out, *, grid: str = "latlon5.625", levels: int = 10, years=(2000, 2003), splits=None,
                         seed: int = 0, days_per_year: int | None = None, limiter: str = "mc",
                         chunk_time: int = 4, block_days: int = 31, progress: bool | None = None,
                         overwrite: bool = False, resume: bool = True) -> dict:
    """Generate a synthetic CarbonBench benchmark in the published schema.

    Every argument is checked before anything is written; the output directory is locked
    (``<out>/Carbontracker.lock``) for the whole run, so a second writer is refused with one
    line naming the holder.

    Parameters
    ----------
    out : str or Path
        Root directory (``Carbontracker/{split}/...`` is created under it).
    grid : str
        ``"latlon<deg>"`` (``latlon5.625`` = LowRes 32 x 64).
    levels : int
        Number of layers.
    years : (int, int) or str
        Inclusive ``(first, last)`` or ``"2000-2003"``.
    splits : dict or str, optional
        ``{split: (y0, y1)}`` or ``"train=2000-2001,val=2002,test=2003"`` (default
        :func:`default_splits`); years in no split are simulated but not stored (spin-up, gap).
    seed : int
        Meteorology / flux perturbations (>= 0).
    days_per_year : int, optional
        Simulate only the first N days of each year (small test stores).
    limiter : str
        Transport slope limiter (:data:`sciml.solvers.transport.LIMITERS`).
    chunk_time : {1, 2, 4}
        Time steps per zarr chunk.
    block_days : int
        Days buffered in memory between writes.
    progress : bool, optional
        Progress bar; ``None``: shown on a terminal.
    overwrite : bool
        Replace a synthetic CarbonBench made with other parameters (a directory not made by
        this generator is never removed).
    resume : bool
        Continue an interrupted run with the same parameters (default); ``False`` refuses it.

    Returns
    -------
    dict
        ``{split: path, "<split>_stats": path, ..., "seconds": float}``.

    Raises
    ------
    ValueError, TypeError
        A bad argument (before any work).
    FileExistsError
        ``out`` holds a CarbonBench made otherwise (without ``overwrite``), or an interrupted
        run and ``resume=False``.
    sciml._util.io.OutputLockedError
        Another process is writing ``out``.
    """
    root, g, seed, (y0, y1), splits, year_split, days_per_year, block_days = _validate(
        out, grid, levels, years, splits, seed, days_per_year, limiter, chunk_time, block_days, progress,
        overwrite, resume)
    dt = 6 * 3600.0
    params = json.dumps({"grid": g.name, "levels": g.nlev, "years": [y0, y1],
                         "splits": {k: list(v) for k, v in splits.items()}, "seed": int(seed),
                         "days_per_year": days_per_year, "limiter": limiter, "dt_s": dt}, sort_keys=True)
    base = root / "Carbontracker"
    restart_dir = base / ".restart"
    pfile = restart_dir / "params.json"
    if base.exists() and not pfile.exists() and any(base.iterdir()):
        raise FileExistsError(f"{base} exists and was not made by generate_carbonbench (no .restart/params.json);"
                              f" choose another out")
    root.mkdir(parents=True, exist_ok=True)
    with OutputLock(base):
        if pfile.exists() and pfile.read_text() != params:
            if not overwrite:
                raise ValueError(f"{str(root)!r} holds a synthetic CarbonBench made with other parameters "
                                      f"({pfile.read_text()}); use another out or overwrite=True")
            shutil.rmtree(base)
        elif pfile.exists() and not resume and not _complete(root, g, splits):
            raise FileExistsError(f"{str(root)!r} holds an interrupted run with these parameters; pass resume=True "
                                  f"to continue it or overwrite=True to start again")
        restart_dir.mkdir(parents=True, exist_ok=True)
        _remove_stale_temporaries(base)
        if not pfile.exists():
            write_text(pfile, params)
        return _generate(root, g, int(seed), dt, limiter, (y0, y1), splits, year_split, days_per_year, chunk_time,
                         block_days, params, progress)


def _complete(root, g, splits) -> bool:
    lev = f"l{g.nlev}"
    return all(store_path(root, s, g.name, lev, "6h").is_dir() and stats_path(root, s, g.name, lev, "6h").is_dir()
               for s in splits)


def _remove_stale_temporaries(base: Path):
    """Hidden ``.<name>.*.tmp`` files / directories left by a killed run (we hold the lock)."""
    for p in base.rglob(".*.tmp*"):
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


def _generate(root, g, seed, dt, limiter, years, splits, year_split, days_per_year, chunk_time, block_days,
              params, progress):
    import zarr

    y0, y1 = years
    restart_dir = root / "Carbontracker" / ".restart"
    lev = f"l{g.nlev}"
    sim = _Simulator(g, seed, dt, limiter)
    result = {}
    attrs_base = {"title": "Synthetic CarbonBench (sciml): classical mass-form FV transport",
                  "source": "sciml.datasets.carbonbench.generate_carbonbench", "grid": g.name, "vertical_levels": lev,
                  "freq": "6h", "synthetic_params": params, "Conventions": "CF-1.8"}
    steps_total = sum((days_per_year or _days_in_year(y)) * 4 for y in range(y0, y1 + 1))
    t_start = _time.perf_counter()
    with _progress(steps_total, "carbonbench", enabled=progress, unit="steps", fields=("stage",)) as bar:
        for year in range(y0, y1 + 1):
            split = year_split.get(year)
            ndays = days_per_year or _days_in_year(year)
            if split is None:  # a year in no split is simulated (spin-up / gap) but not stored
                if not (restart_dir / f"{year}.npz").exists():
                    bar.update(stage=f"{year} (not stored)")
                    r = _initial_or_restart(sim, restart_dir, year, y0)
                    _run_year(sim, None, r, year, ndays * 4, dt, chunk_time, block_days, restart_dir, bar)
                else:
                    bar.advance(ndays * 4)
                continue
            final = store_path(root, split, g.name, lev, "6h")
            partial = final.with_name(final.name + ".tmp-partial")
            result[split] = final
            nsteps = ndays * 4
            if final.is_dir():
                bar.advance(nsteps)
                continue
            final.parent.mkdir(parents=True, exist_ok=True)
            grp = _open_partial(partial, g, chunk_time, {**attrs_base, "split": split, "years": list(splits[split])})
            if year in grp.attrs.get("years_done", []):
                bar.advance(nsteps)
            else:
                bar.update(stage=f"{split} {year}")
                r = _initial_or_restart(sim, restart_dir, year, y0)
                _run_year(sim, grp, r, year, nsteps, dt, chunk_time, block_days, restart_dir, bar)
            if year == splits[split][1]:
                zarr.consolidate_metadata(str(partial))
                partial.rename(final)
        # stats from the train split (or the first split), copied next to every split
        src = "train" if "train" in splits else min(splits, key=lambda k: splits[k][0])
        first = None
        for split in splits:
            sp = stats_path(root, split, g.name, lev, "6h")
            if not sp.is_dir():
                if first is None:
                    bar.update(stage="stats")
                    write_stats(compute_stats(store_path(root, src, g.name, lev, "6h")), sp, replace=True)
                else:
                    copy_store(first, sp)
            first = first or sp
            result[f"{split}_stats"] = sp
    result["seconds"] = _time.perf_counter() - t_start
    return result


def _initial_or_restart(sim, restart_dir, year, y0):
    if year == y0:
        t0 = _seconds_since_2000(year)
        ps = sim.atm.surface_pressure(t0)
        return sim.atm.initial_co2(ps) * sim.grid.air_mass(ps)
    f = restart_dir / f"{year - 1}.npz"
    if not f.exists():
        raise FileNotFoundError(f"restart state {str(f)!r} of year {year - 1} is missing; regenerate from {y0}")
    with np.load(f, allow_pickle=False) as z:
        return z["tracer_mass"].copy()


def _save_npz_atomic(path: Path, **arrays):
    with atomic_path(path, ".npz") as tmp:
        np.savez(tmp, **arrays)


def _run_year(sim, grp, r, year, nsteps, dt, chunk_time, block_days, restart_dir, bar):
    import zarr

    g = sim.grid
    if grp is None:  # simulate only
        t_year = _seconds_since_2000(year)
        for n in range(nsteps):
            t = t_year + n * dt
            m = g.air_mass(sim.atm.surface_pressure(t))
            land, ocean, anth = sim.atm.fluxes(t + 0.5 * dt)
            r = sim.step(t, r, m, land + ocean + anth)
            bar.advance(1)
        _save_npz_atomic(restart_dir / f"{year}.npz", tracer_mass=r)
        return
    n0 = int(grp.attrs.get("n_time_done", 0))
    a3, a2, at = grp["variables_3d"], grp["variables_2d"], grp["time"]
    for a in (a3, a2, at):
        a.resize((n0 + nsteps,) + a.shape[1:])
    t_year = _seconds_since_2000(year)
    block = max(chunk_time, (block_days * 4 // chunk_time) * chunk_time)
    buf3 = np.empty((block, len(VARIABLES_3D), g.nlev, g.nlat, g.nlon), np.float32)
    buf2 = np.empty((block, len(VARIABLES_2D), g.nlat, g.nlon), np.float32)
    for b0 in range(0, nsteps, block):
        nb = min(block, nsteps - b0)
        for i in range(nb):
            t = t_year + (b0 + i) * dt
            x3, x2, (land, ocean, anth), m = sim.record(t, r)
            buf3[i], buf2[i] = x3, x2
            r = sim.step(t, r, m, land + ocean + anth)
            bar.advance(1)
        a3[n0 + b0:n0 + b0 + nb] = buf3[:nb]
        a2[n0 + b0:n0 + b0 + nb] = buf2[:nb]
    at[n0:n0 + nsteps] = np.round((t_year + np.arange(nsteps) * dt) / 3600.0).astype(np.int64)
    _save_npz_atomic(restart_dir / f"{year}.npz", tracer_mass=r)
    done = list(grp.attrs.get("years_done", [])) + [year]
    grp.attrs.update({
        "years_done": done, "n_time_done": n0 + nsteps,
        "max_relative_transport_mass_drift_per_step": float(max(sim.max_transport_drift,
                                                              grp.attrs.get("max_relative_transport_mass_drift_per_step", 0.0))),
        "max_relative_mass_budget_error_per_step": float(max(sim.max_budget_error,
                                                           grp.attrs.get("max_relative_mass_budget_error_per_step", 0.0))),
        "max_relative_airmass_mismatch": float(max(sim.max_airmass_mismatch,
                                                   grp.attrs.get("max_relative_airmass_mismatch", 0.0))),
        "max_substeps": json.dumps(sim.max_substeps),
    })
    zarr.consolidate_metadata(grp.store)


def _open_partial(path: Path, grid: LatLonGrid, chunk_time: int, attrs: dict):
    """Open (or create) an in-progress split store; returns the zarr group."""
    import zarr

    if path.is_dir():
        grp = zarr.open_group(str(path), mode="r+")
        if grp.attrs.get("synthetic_params") != attrs["synthetic_params"]:
            raise ValueError(f"{str(path)!r} was started with different parameters; remove it or use another out")
        n = int(grp.attrs.get("n_time_done", 0))
        for name in ("variables_3d", "variables_2d", "time"):
            a = grp[name]
            if a.shape[0] != n:
                a.resize((n,) + a.shape[1:])
        return grp
    with atomic_dir(path) as tmp:
        grp = zarr.open_group(str(tmp), mode="w", zarr_format=2)
        nl, la, lo = grid.nlev, grid.nlat, grid.nlon

        def arr(name, shape, chunks, dtype, dims, fill=None, **a):
            z = grp.create_array(name, shape=shape, chunks=chunks, dtype=dtype, fill_value=fill)
            z.attrs.update({"_ARRAY_DIMENSIONS": list(dims), **a})
            return z

        arr("variables_3d", (0, len(VARIABLES_3D), nl, la, lo), (chunk_time, len(VARIABLES_3D), nl, la, lo), "f4",
            ("time", "vari_3d", "level", "lat", "lon"), fill=np.nan)
        arr("variables_2d", (0, len(VARIABLES_2D), la, lo), (chunk_time, len(VARIABLES_2D), la, lo), "f4",
            ("time", "vari_2d", "lat", "lon"), fill=np.nan)
        arr("time", (0,), (4096,), "i8", ("time",), units=_HOURS_EPOCH, calendar="proleptic_gregorian",
            standard_name="time")
        arr("lat", (la,), (la,), "f8", ("lat",), units="degrees_north", standard_name="latitude")[:] = grid.lat
        arr("lon", (lo,), (lo,), "f8", ("lon",), units="degrees_east", standard_name="longitude")[:] = grid.lon
        arr("level", (nl,), (nl,), "f8", ("level",), units="hPa",
            long_name="layer bottom pressure at 1013 hPa surface pressure")[:] = grid.level
        arr("vari_3d", (len(VARIABLES_3D),), (len(VARIABLES_3D),), "<U16", ("vari_3d",))[:] = np.array(VARIABLES_3D)
        arr("vari_2d", (len(VARIABLES_2D),), (len(VARIABLES_2D),), "<U16", ("vari_2d",))[:] = np.array(VARIABLES_2D)
        grp.attrs.update({**attrs, "n_time_done": 0, "years_done": [],
                          "units": json.dumps({k: UNITS[k] for k in VARIABLES_3D + VARIABLES_2D}),
                          "hybrid_a_Pa": grid.a.tolist(), "hybrid_b": grid.b.tolist()})
        zarr.consolidate_metadata(str(tmp))
    return zarr.open_group(str(path), mode="r+")


def generate_tiny_carbonbench(out, *, seed: int = 0, days: int = 14, grid: str = "latlon22.5", levels: int = 3,
                              progress: bool = False) -> dict:
    """A small complete store for tests (8 x 16 grid, 3 levels, train 2000 / val 2001 / test 2002,
    ``days`` days each; ~1 s). Returns the :func:`generate_carbonbench` result."""
    return generate_carbonbench(out, grid=grid, levels=levels, years=(2000, 2002), seed=seed, progress=progress,
                                days_per_year=days)

