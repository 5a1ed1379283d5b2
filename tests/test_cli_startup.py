"""``distgmm --version`` and ``--help`` answer at once: they import none of the heavy modules."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from test_cli import distgmm_command

#: What the library needs to fit, and takes seconds to import; the parser needs none of it.
HEAVY = ("numpy", "scipy", "sklearn", "pandas", "xarray", "dask", "distributed", "pyarrow", "zarr")

_IMPORTED_BY = """
import json, sys
from distgmm.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = {heavy!r}
print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}} & set(heavy))))
"""


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["fit", "--help"]])
def test_version_and_help_import_no_heavy_module(argv):
    """The console script's path (``distgmm.cli.main``) up to where ``argv`` exits."""
    code = _IMPORTED_BY.format(heavy=HEAVY)
    result = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == []


@pytest.mark.parametrize("argv", [["--version"], ["--help"]])
def test_python_m_distgmm_is_the_console_script(argv):
    script = subprocess.run([*distgmm_command(), *argv], capture_output=True, text=True)
    module = subprocess.run(
        [sys.executable, "-m", "distgmm", *argv], capture_output=True, text=True
    )
    assert script.returncode == module.returncode == 0, module.stderr
    assert module.stdout == script.stdout
    assert module.stdout.strip()


def test_the_parsers_copies_of_library_choices_are_the_librarys():
    from distgmm.cli import _choices
    from distgmm.core.missing import NAN_POLICIES
    from distgmm.estimators._terms import FAMILIES
    from distgmm.families.gaussian.covtypes import COVARIANCE_TYPES
    from distgmm.families.gaussian.vb import PRIOR_TYPES
    from distgmm.io import DEFAULT_CHUNK_BYTES

    assert _choices.COVARIANCE_TYPES == COVARIANCE_TYPES
    assert _choices.PRIOR_TYPES == PRIOR_TYPES
    assert _choices.DEFAULT_CHUNK_BYTES == DEFAULT_CHUNK_BYTES
    assert set(_choices.GROUP_FAMILIES) == set(FAMILIES)
    assert _choices.NAN_POLICIES == NAN_POLICIES


def test_lazy_package_names():
    """``import distgmm`` imports none of them; every public name still resolves and lists."""
    code = (
        "import json, sys, distgmm; "
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
    import distgmm

    for name in distgmm.__all__:
        assert getattr(distgmm, name) is not None, name
        assert name in dir(distgmm), name
    from distgmm import GaussianMixture, GaussianParams, Stats  # noqa: F401


def _help(*command: str) -> str:
    result = subprocess.run(
        [*distgmm_command(), *command, "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return " ".join(result.stdout.split())  # argparse wraps lines at the terminal's width


def test_help_shows_defaults_and_every_argument():
    fit = _help("fit")
    covariance = "of the Gaussian columns, --family gaussian or mixed (default: full)"
    assert f"--covariance {{full,tied,diag,spherical}} {covariance}" in fit
    assert "--family {gaussian,categorical,bernoulli,poisson,multinomial,mixed}" in fit
    assert "--init {kmeans,k-means++,random,random_from_data} default: kmeans" in fit
    criterion = _help("select").partition("--criterion {bic,aic} ")[2]  # not the usage's
    assert "(default: bic)" in criterion.partition("--")[0]
    for command in ("predict", "score", "info"):
        assert "MODEL a model file saved by fit or select" in _help(command), command
    demo = _help("demo")
    for option, default in [
        ("--rows", 200000),
        ("--features", 8),
        ("--components", 5),
        ("--workers", 2),
        ("--seed", 0),
    ]:
        described = demo.partition(f"{option} N ")[2].partition("--")[0]
        assert f"(default: {default})" in described, option
