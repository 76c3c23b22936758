"""Private helpers shared by every part of sciml (one of each mechanism).

* :mod:`sciml._util.io`: atomic writes (temporary name + rename, umask-respecting
  permissions, strict JSON) and exclusive output locks with stale-lock detection;
* :mod:`sciml._util.progress`: the one progress-bar helper (rich; on for a terminal,
  off otherwise);
* :mod:`sciml._util.validation`: argument validators whose messages name the argument,
  usable from library code (``ValueError``/``TypeError``) and as argparse ``type=``
  converters;
* :mod:`sciml._util.rng`: ``numpy.random.Generator`` construction from a seed.

Nothing here is public API; import from the submodules.
"""
