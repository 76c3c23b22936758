"""``sciml generate RECIPE``: make a dataset from a recipe (``carbonbench``: the CarbonBench stores).

Each recipe's options are built from its :class:`~sciml.datasets.recipes.Param`
declarations (type, bounds, default, one line of help), and parsed with the same checks
the library applies, so ``sciml generate RECIPE --help`` and ``generate()`` agree.
"""
from __future__ import annotations

import argparse

from .._util.validation import check_int, converter, nonnegative_int, positive_int
from ._core import UserError, options_named

__all__ = ["add_parser", "recipe_options"]

CARBONBENCH = "carbonbench"
CARBONBENCH_OPTIONS = ("grid", "levels", "years", "splits", "seed", "days_per_year", "limiter")


def add_parser(subparsers, argv=()):
    from ..datasets import get_recipe, list_recipes

    g = subparsers.add_parser("generate", help="generate a dataset from a recipe",
                              description="Generate a dataset from RECIPE into an HDF5 store "
                                          "(carbonbench: a directory of zarr stores). "
                                          "`sciml generate RECIPE --help` lists the recipe's parameters.")
    argv = list(argv)
    i = argv.index("generate") + 1 if "generate" in argv else len(argv)
    selected = argv[i] if i < len(argv) and not argv[i].startswith("-") else None
    names = list_recipes() + [CARBONBENCH]
    if selected is not None and selected not in names:
        get_recipe(selected)  # ValueError: unknown recipe ..., known recipes: ...
    rs = g.add_subparsers(dest="recipe", metavar="RECIPE", parser_class=type(g))
    rs.required = True
    for name in names:
        summary = ("CarbonBench: synthetic CO2 transport in the published schema" if name == CARBONBENCH
                   else get_recipe(name).description)
        if name != selected:
            rs.add_parser(name, help=summary, add_help=False)
        elif name == CARBONBENCH:
            _carbonbench_parser(rs.add_parser(name, help=summary, description=summary))
        else:
            p = rs.add_parser(name, help=summary, description=summary)
            _common(p)
            recipe_options(p, get_recipe(name))
            p.set_defaults(func=run)
    return g


def _common(p):
    c = p.add_argument_group("generation")
    c.add_argument("--n", type=positive_int, default=None, help="number of samples (required)")
    c.add_argument("--seed", type=nonnegative_int, default=0, help="dataset seed (default 0)")
    c.add_argument("--out", default=None, help="output store (.h5; required)")
    c.add_argument("--workers", type=positive_int, default=1, help="worker processes (default 1)")
    c.add_argument("--scheduler", default=None,
                   help="dask.distributed scheduler address, or 'local' for a LocalCluster")
    c.add_argument("--chunk", type=positive_int, default=None,
                   help="samples solved together (default: the recipe's; changes nothing stored)")
    c.add_argument("--no-progress", action="store_true", help="no progress bar")


def recipe_options(parser, recipe) -> None:
    """Add one ``--name`` option per declared parameter of ``recipe`` (dest ``p_<name>``)."""
    grp = parser.add_argument_group(f"{recipe.name} parameters")
    for name, decl in recipe.declarations().items():
        flag = "--" + name.replace("_", "-")
        dest = "p_" + name
        help_ = f"{decl.help} ({decl.describe()})" if decl.help else decl.describe()
        help_ = help_.replace("%", "%%")
        if decl.type is bool:
            grp.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction, default=None, help=help_)
            continue
        kw = {"metavar": "{" + ",".join(map(str, decl.choices)) + "}" if decl.choices is not None
              else decl.type.__name__.upper()}
        conv = converter(decl.type, lambda v, n, d=decl: d.check(v, n))
        if recipe.params is None and decl.default is None:  # undeclared, no default to infer a type from
            conv, kw = _literal, {"metavar": "VALUE"}
        grp.add_argument(flag, dest=dest, default=None, help=help_, type=conv, **kw)


def _literal(text: str):
    """A Python literal when the text is one (``3``, ``0.5``, ``[1, 2]``), else the text."""
    import ast

    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def run(args) -> int:
    from .._util.io import check_output, lock_outputs
    from ..datasets import generate, get_recipe

    if args.n is None:
        raise UserError("--n is required (a positive number of samples)")
    if args.out is None:
        raise UserError("--out is required")
    params = {k[2:]: v for k, v in vars(args).items() if k.startswith("p_") and v is not None}
    if args.chunk is not None:
        params["chunk"] = args.chunk
    recipe = get_recipe(args.recipe)
    with options_named(list(recipe.defaults) + ["chunk"]):
        resolved = recipe.resolve(**params)
    # an existing store is the generator's to resume or refuse; anything else is never replaced
    out = check_output(args.out, name="--out", exist_ok=True, kinds=("hdf5",))
    recipe.check_resources(resolved, args.n, out.parent)
    partial = out.with_name(out.name + ".partial")
    had_partial = partial.exists()
    try:
        with lock_outputs(out), options_named(list(recipe.defaults) + ["n", "seed", "workers", "chunk"]):
            path = generate(args.recipe, args.n, seed=args.seed, out=args.out, workers=args.workers,
                            scheduler=args.scheduler, progress=not args.no_progress, **params)
    except BaseException:
        if not had_partial:
            _drop_empty_partial(partial)
        raise
    print(f"wrote {path}")
    return 0


def _drop_empty_partial(partial) -> None:
    """A run that failed before finishing any chunk leaves nothing to resume: remove its
    ``<out>.partial/`` (only a manifest) so the user is left with what they had."""
    import shutil

    if partial.is_dir() and all(p.name == "manifest.json" for p in partial.rglob("*")):
        shutil.rmtree(partial, ignore_errors=True)


# --------------------------------------------------------------------------- carbonbench
def _text_type(parse, option):
    """argparse ``type=`` from a library parser of text (its ValueError names the option)."""
    def convert(text):
        try:
            return parse(text)
        except (TypeError, ValueError) as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = option
    return convert


class _NoN(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):
        raise UserError("--n does not apply to carbonbench: its size is set by --grid, --levels, --years "
                        "and --days-per-year")


def _carbonbench_parser(p):
    from ..datasets.carbonbench import parse_splits, parse_years

    p.add_argument("--grid", default="latlon5.625", help="latlon<degrees> (default latlon5.625 = 32 x 64)")
    p.add_argument("--levels", type=positive_int, default=10, help="vertical layers (default 10)")
    p.add_argument("--years", type=_text_type(parse_years, "years"), default=(2000, 2003),
                   help="FIRST-LAST, inclusive (default 2000-2003)")
    p.add_argument("--splits", type=_text_type(parse_splits, "splits"), default=None,
                   help="NAME=YEARS,... (default: train = all but the last two years, val, test)")
    p.add_argument("--days-per-year", type=converter(int, lambda v, n: check_int(v, n, min=1, max=366)),
                   default=None, help="simulate only the first N days of each year (small stores)")
    p.add_argument("--limiter", default="mc", help="transport slope limiter (default mc)")
    p.add_argument("--out", default=None, help="root directory that will hold Carbontracker/ (required)")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="meteorology / flux perturbation seed")
    p.add_argument("--n", nargs="?", action=_NoN, help=argparse.SUPPRESS)
    p.add_argument("--overwrite", action="store_true",
                   help="replace a synthetic CarbonBench made with other parameters (an interrupted run with the "
                        "same parameters is resumed without it)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run_carbonbench)


def run_carbonbench(args) -> int:
    from .._util.io import check_output, lock_outputs
    from ..datasets import carbonbench as cb

    if args.out is None:
        raise UserError("--out is required (the directory that will hold Carbontracker/)")
    out = check_output(args.out, name="--out", directory=True, exist_ok=True)  # resumable: finished years kept
    with lock_outputs(out), options_named(CARBONBENCH_OPTIONS):
        res = cb.generate_carbonbench(out, grid=args.grid, levels=args.levels, years=args.years,
                                      splits=args.splits, seed=args.seed, progress=not args.no_progress,
                                      days_per_year=args.days_per_year, limiter=args.limiter,
                                      overwrite=args.overwrite)
    for k, v in res.items():
        if k != "seconds":
            print(f"wrote {v}")
    print(f"done in {res['seconds']:.1f} s")
    return 0
