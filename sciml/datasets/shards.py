"""``<out>.partial/``: the manifest of a generation run and one HDF5 shard per finished chunk.

Each shard is written under a hidden temporary name and renamed when complete, so a shard
that exists is whole. :meth:`ShardDirectory.assemble` writes the final store from the shards
(atomically, see :func:`sciml.datasets.store.write_store`) and then removes the directory.
A run that was killed leaves hidden temporaries (``.<name>.*.tmp*``);
:meth:`ShardDirectory.remove_stale_temporaries` removes them (the caller holds the output
lock, so no live writer owns them).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Mapping

import h5py
import numpy as np

from .._util.io import atomic_path, write_text
from ._h5layout import h5_create
from .recipes import Layout

__all__ = ["ShardDirectory"]

_MANIFEST = "manifest.json"


class ShardDirectory:
    """The shard directory of the output file ``out``."""

    def __init__(self, out: Path):
        self.out = Path(out)
        self.dir = self.out.with_name(self.out.name + ".partial")

    def exists(self) -> bool:
        return (self.dir / _MANIFEST).exists()

    def read_manifest(self) -> dict:
        return json.loads((self.dir / _MANIFEST).read_text())

    def create(self, manifest: dict):
        self.dir.mkdir(exist_ok=True)
        write_text(self.dir / _MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))

    def _shard(self, chunk_id: int) -> Path:
        return self.dir / f"chunk-{chunk_id:07d}.h5"

    def done(self) -> set[int]:
        out = set()
        for p in self.dir.glob("chunk-*.h5"):
            try:
                out.add(int(p.stem.split("-")[1]))
            except ValueError:
                continue
        return out

    def write(self, chunk_id: int, indices, arrays: Mapping[str, np.ndarray], layout: Layout):
        indices = np.asarray(list(indices), dtype=np.int64)
        for name, spec in layout.fields.items():
            want = (len(indices),) + tuple(spec.shape)
            if np.shape(arrays[name]) != want:
                raise ValueError(f"recipe returned field {name!r} with shape {np.shape(arrays[name])}, "
                                 f"expected {want}")
        with atomic_path(self._shard(chunk_id), ".h5") as tmp:
            with h5_create(tmp, label=self._shard(chunk_id)) as f:
                f.create_dataset("indices", data=indices, track_times=False)
                for name, spec in layout.fields.items():
                    a = np.asarray(arrays[name])
                    f.create_dataset(name, data=a.astype(spec.dtype, copy=False), track_times=False)

    def assemble(self, layout: Layout, attrs: Mapping, n_chunks: int):
        """Write the final store from all shards (atomically), then remove the shard directory."""
        from .store import write_store

        shards = [self._shard(c) for c in range(n_chunks)]

        def filler(name):
            def fill(dset):
                for p in shards:
                    with h5py.File(p, "r") as f:
                        idx = f["indices"][()]
                        dset[idx[0]:idx[-1] + 1] = f[name][()]
            return fill

        write_store(self.out, layout, {k: filler(k) for k in layout.fields}, attrs)
        shutil.rmtree(self.dir)

    def remove_stale_temporaries(self) -> list[Path]:
        """Remove hidden temporaries of earlier, killed runs on this output; returns them."""
        found = list(self.out.parent.glob(f".{self.out.name}.*.tmp*"))
        if self.dir.is_dir():
            found += list(self.dir.glob(".*.tmp*"))
        for p in found:
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
        return found
