"""``sciml generate RECIPE --help`` is generated from the recipe's own declarations, and the CLI
parses with the same checks as the library."""
import pytest

from sciml.cli import main
from sciml.datasets import get_recipe, list_recipes


@pytest.mark.parametrize("name", list_recipes())
def test_help_lists_every_declared_parameter(name, capsys):
    recipe = get_recipe(name)
    assert recipe.params is not None, f"{name} declares no Param list"
    with pytest.raises(SystemExit) as e:
        main(["generate", name, "--help"])
    assert e.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # undo argparse's line wrapping
    for pname, decl in recipe.params.items():
        assert "--" + pname.replace("_", "-") in text
        assert decl.help and " ".join(decl.help.split()) in text, pname
        assert " ".join(decl.describe().split()) in text, pname  # type, bounds and default
    assert recipe.defaults == {k: p.default for k, p in recipe.params.items()}


@pytest.mark.parametrize("name", list_recipes())
def test_cli_and_library_refuse_the_same_values(name, tmp_path, capsys):
    """For each declared bound, a value past it is refused by resolve() and by the command line alike."""
    recipe = get_recipe(name)
    for pname, decl in recipe.params.items():
        if decl.type not in (int, float) or decl.min is None:
            continue
        bad = decl.min if decl.min_open else decl.min - 1
        with pytest.raises((ValueError, TypeError), match=pname):
            recipe.resolve(**{pname: bad})
        rc = main(["generate", name, "--n", "1", "--out", str(tmp_path / "x.h5"),
                   "--" + pname.replace("_", "-"), str(bad)])
        err = capsys.readouterr().err.strip()
        assert rc == 2 and ("--" + pname.replace("_", "-")) in err and "\n" not in err, err
    assert list(tmp_path.iterdir()) == []


def test_generate_lists_recipes_including_carbonbench(capsys):
    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    out = capsys.readouterr().out
    for name in list_recipes() + ["carbonbench"]:
        assert name in out


def test_carbonbench_help(capsys):
    with pytest.raises(SystemExit):
        main(["generate", "carbonbench", "--help"])
    out = capsys.readouterr().out
    for opt in ("--grid", "--levels", "--years", "--splits", "--days-per-year", "--limiter", "--out", "--seed"):
        assert opt in out


def test_a_user_recipe_without_declarations_still_gets_options(tmp_path, capsys):
    import numpy as np

    from sciml.datasets.recipes import _REGISTRY, FieldSpec, Layout, Recipe, register_recipe

    def chunk(p, seed, idx):
        return {"u": np.full((len(idx), 1, p["size"]), float(p["scale"] or 1.0))}

    register_recipe(Recipe(name="user-const", defaults={"size": 4, "scale": None}, validate=lambda p: p,
                           layout=lambda p: Layout(fields={"u": FieldSpec((1, p["size"]), ("channel", "x"))}),
                           solve_chunk=chunk))
    try:
        out = tmp_path / "u.h5"
        assert main(["generate", "user-const", "--n", "2", "--size", "3", "--scale", "2.5", "--out", str(out),
                     "--no-progress"]) == 0
        from sciml.datasets import open_dataset

        with open_dataset(out) as ds:
            assert np.array_equal(ds["u"][:], np.full((2, 1, 3), 2.5))
    finally:
        _REGISTRY.pop("user-const", None)
