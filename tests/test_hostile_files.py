"""Hostile or damaged model files and checkpoints: refused quickly, cheaply, and by name.

The crafted files are built here with :mod:`zipfile`: bombs that inflate to hundreds of
MiB from a few hundred KiB, members whose ``.npy`` header lies about their shape, extra
members, malformed headers. Peak memory is measured in a subprocess with
``resource.getrusage``; nothing here allocates the sizes the files declare.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import random
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from distgmm import ConvergenceWarning, GaussianMixture, InvalidInputError
from distgmm import load as load_model
from distgmm.checkpoint import load_checkpoint

ARRAYS = ("weights_", "means_", "covariances_", "precisions_cholesky_", "lower_bounds_")
BOMB_MIB = 128  # what a bomb inflates to: far over what a refusal may cost, cheap to build


@pytest.fixture(scope="module")
def X(make_mixture):
    return make_mixture(n=300, d=3, k=3, seed=1)[0]


@pytest.fixture(scope="module")
def model(X, tmp_path_factory):
    """A good 'full' model file, and its members."""
    path = tmp_path_factory.mktemp("hostile") / "model.npz"
    GaussianMixture(3, random_state=0, persist=False).fit(X).save(path)
    return path, _members(path)


@pytest.fixture
def checkpoint(X, tmp_path):
    """A checkpoint of two restarts after two iterations, its members and fingerprint."""
    path = tmp_path / "fit.ckpt"
    _fit(X, max_iter=2, checkpoint=path)
    members = _members(path)
    return path, members, _header(members)["fingerprint"]  # what the same fit would pass


def _fit(X, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GaussianMixture(3, random_state=0, n_init=2, tol=0.0, **params).fit(X)


def _members(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def _header(members) -> dict:
    return json.loads(str(members["header"][()]))


def _save(path: Path, members: dict, header: object = None) -> Path:
    members = dict(members)
    if header is not None:
        members["header"] = np.array(header if isinstance(header, str) else json.dumps(header))
    with path.open("wb") as fh:
        np.savez(fh, **members)
    return path


def _rehash(header: dict, members: dict) -> dict:
    for name in ARRAYS:
        digest = hashlib.sha256(np.ascontiguousarray(members[name]).tobytes()).hexdigest()
        header["arrays"][name]["sha256"] = digest
    return header


def _npy_header(dtype: str, shape: tuple) -> bytes:
    """The bytes np.save writes before an array's data (format 1.0)."""
    text = repr({"descr": dtype, "fortran_order": False, "shape": shape})
    pad = 64 - (10 + len(text) + 1) % 64
    text = text + " " * pad + "\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode("latin1")


def _bomb(path: Path, members: dict, name: str, npy_header: bytes) -> Path:
    """``members`` with member ``name`` replaced by deflated zeros inflating to BOMB_MIB."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for other, value in members.items():
            if other != name:
                with archive.open(f"{other}.npy", "w") as fh:
                    np.lib.format.write_array(fh, value, allow_pickle=False)
        info = zipfile.ZipInfo(f"{name}.npy")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as fh:
            fh.write(npy_header)
            zeros = bytes(2**20)
            for _ in range(BOMB_MIB):
                fh.write(zeros)
    assert path.stat().st_size < BOMB_MIB * 2**20 // 100  # a real bomb: >100x
    return path


_MEASURE = """
import resource, sys
from pathlib import Path
from distgmm import InvalidInputError
from distgmm.checkpoint import load_checkpoint
from distgmm import load as load_model
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    if sys.argv[1] == "model":
        load_model(sys.argv[2])
    else:
        load_checkpoint(sys.argv[2], {})
except InvalidInputError as err:
    print(str(err).splitlines()[0], file=sys.stderr)
else:
    sys.exit("loaded")
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)
"""


def _peak_growth(kind: str, path: Path) -> int:
    """Bytes the peak memory grew by while loading ``path`` (refused) in a fresh process."""
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, kind, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert str(path) in result.stderr
    print(f"peak memory growth refusing {path.name}: {int(result.stdout) / 2**20:.1f} MiB")
    return int(result.stdout)


# ---------------------------------------------------------------------------- item 4: sizes
@pytest.mark.parametrize(
    ("name", "npy_header"),
    [
        ("header", _npy_header(f"<U{BOMB_MIB * 2**18}", ())),
        ("means_", _npy_header("<f8", (BOMB_MIB * 2**17,))),
    ],
    ids=["header", "array"],
)
def test_zip_bomb_member_is_refused_before_inflating(model, tmp_path, name, npy_header):
    _, members = model
    bomb = _bomb(tmp_path / "bomb.npz", members, name, npy_header)
    assert _peak_growth("model", bomb) < 32 * 2**20  # the bomb inflates to 128 MiB
    with pytest.raises(InvalidInputError, match="compressed") as info:
        load_model(bomb)
    assert str(bomb) in str(info.value)


def test_checkpoint_zip_bomb_is_refused_before_inflating(checkpoint, tmp_path):
    _, members, _ = checkpoint
    bomb = _bomb(tmp_path / "bomb.ckpt", members, "m0_means", _npy_header("<f8", (2**25,)))
    assert _peak_growth("checkpoint", bomb) < 32 * 2**20


def test_npy_header_declaring_a_huge_shape_is_refused(model, tmp_path):
    _, members = model
    lying = tmp_path / "lying.npz"
    with zipfile.ZipFile(lying, "w", zipfile.ZIP_STORED) as archive:
        for name, value in members.items():
            with archive.open(f"{name}.npy", "w") as fh:
                if name == "means_":  # declares 1.5 GiB, holds 72 bytes
                    fh.write(_npy_header("<f8", (3 * 2**27,)) + value.tobytes())
                else:
                    np.lib.format.write_array(fh, value, allow_pickle=False)
    with pytest.raises(InvalidInputError, match=r"'means_' has shape \(402653184,\)"):
        load_model(lying)


def test_unknown_members_are_refused(model, checkpoint, tmp_path):
    path, members = model
    extra = _save(tmp_path / "extra.npz", {**members, "extra": np.zeros(1000)})
    with pytest.raises(InvalidInputError, match=r"unexpected \['extra'\]"):
        load_model(extra)
    path, members, fingerprint = checkpoint
    _save(path, {**members, "extra": np.zeros(1000)})
    with pytest.raises(InvalidInputError, match=r"unexpected \['extra'\]"):
        load_checkpoint(path, fingerprint)


def test_deeply_nested_or_oversized_header_is_refused(model, checkpoint, tmp_path):
    _, members = model
    deep = "[" * 200_000 + "]" * 200_000
    for target, load in (
        (tmp_path / "deep.npz", load_model),
        (checkpoint[0], lambda p: load_checkpoint(p, checkpoint[2])),
    ):
        _save(target, members if load is load_model else checkpoint[1], deep)
        with pytest.raises(InvalidInputError, match="nests") as info:
            load(target)
        assert str(target) in str(info.value)
    nested = _header(members)
    nested["params"]["extra"] = json.loads("[" * 40 + "]" * 40)
    _save(tmp_path / "nested.npz", members, _rehash(nested, members))
    with pytest.raises(InvalidInputError, match="over 16 deep"):
        load_model(tmp_path / "nested.npz")


# ---------------------------------------------------------------------------- item 5: side effects
def test_side_effect_parameters_in_a_file_are_not_honoured(model, X, tmp_path):
    _, members = model
    target = tmp_path / "written-by-the-file.ckpt"
    header = _header(members)
    header["params"].update(checkpoint=str(target), resume=True, warm_start=True)
    header["params"]["client"] = "tcp://198.51.100.1:8786"
    crafted = _save(tmp_path / "crafted.npz", members, header)
    loaded = load_model(crafted)
    params = loaded.get_params()
    assert (params["checkpoint"], params["resume"], params["warm_start"]) == (None, False, False)
    assert params["client"] is None
    loaded.fit(X)
    assert not target.exists()


def test_a_model_fitted_with_a_checkpoint_does_not_carry_it(X, tmp_path):
    ckpt = tmp_path / "fit.ckpt"
    gm = _fit(X, max_iter=2, checkpoint=ckpt, resume=True)
    gm.save(tmp_path / "model.npz")
    header = _header(_members(tmp_path / "model.npz"))
    for name in ("checkpoint", "resume", "warm_start", "client"):
        assert name not in header["params"]
        assert name in header["dropped_params"]
    before = ckpt.read_bytes()
    loaded = load_model(tmp_path / "model.npz")
    assert loaded.get_params()["checkpoint"] is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        loaded.fit(X)
    assert ckpt.read_bytes() == before  # not resumed from, not written


# ---------------------------------------------------------------------------- item 6: malformed
def _checkpoint_variants(members: dict) -> dict[str, tuple[dict, object]]:
    header = _header(members)
    no_fingerprint = {k: v for k, v in header.items() if k != "fingerprint"}
    no_models = {**header, "models": []}
    raw = dict(members)
    rows = header["fingerprint"]["n_samples"]

    def first_model(**values) -> dict:
        return {**header, "models": [{**header["models"][0], **values}, *header["models"][1:]]}

    return {
        "list-header": (members, "[1, 2]"),
        "no-fingerprint": (members, no_fingerprint),
        "no-models": (members, no_models),
        "raw-bytes": (raw, None),
        "negative-omitted": (members, first_model(n_omitted=-1)),
        "too-many-empty": (members, first_model(n_empty=rows + 1)),
        "text-omitted": (members, first_model(n_omitted="3")),
        "bool-omitted": (members, first_model(n_omitted=True)),
        "omitted-not-omit": (members, first_model(n_omitted=5, n_empty=2)),
        "empty-not-omitted": (members, first_model(n_empty=1)),
    }


@pytest.mark.parametrize(
    ("variant", "words"),
    [
        ("list-header", "not an object"),
        ("no-fingerprint", "no 'fingerprint'"),
        ("no-models", "'models'"),
        ("raw-bytes", r"not a \.npy array"),
        ("negative-omitted", "model 0: its n_omitted or n_empty is not a count of rows"),
        ("too-many-empty", "model 0: its n_omitted or n_empty is not a count of rows"),
        ("text-omitted", "model 0: its n_omitted or n_empty is not a count of rows"),
        ("bool-omitted", "model 0: its n_omitted or n_empty is not a count of rows"),
        ("omitted-not-omit", "model 0: its n_omitted 5 and n_empty 2 are not what a fit"),
        ("empty-not-omitted", "model 0: its n_omitted 0 and n_empty 1 are not what a fit"),
    ],
)
def test_malformed_checkpoint_is_an_input_error(checkpoint, variant, words):
    path, members, fingerprint = checkpoint
    chosen, header = _checkpoint_variants(members)[variant]
    if variant == "raw-bytes":
        with zipfile.ZipFile(path, "w") as archive:
            for name, value in members.items():
                with archive.open(f"{name}.npy", "w") as fh:
                    if name == "origin":
                        fh.write(b"raw bytes, not an array")
                    else:
                        np.lib.format.write_array(fh, value, allow_pickle=False)
    else:
        _save(path, chosen, header)
    with pytest.raises(InvalidInputError, match=words) as info:
        load_checkpoint(path, fingerprint)
    assert str(path) in str(info.value)


def test_a_checkpoint_without_row_counts_reads_them_as_zero(checkpoint):
    """Checkpoints written before n_omitted and n_empty were kept still resume."""
    path, members, fingerprint = checkpoint
    header = _header(members)
    for model in header["models"]:
        del model["n_omitted"], model["n_empty"]
    _save(path, members, header)
    progress, _ = load_checkpoint(path, fingerprint)
    assert [(r.n_omitted, r.n_empty) for r in progress.results] == [(0, 0), (0, 0)]


def test_pickled_checkpoint_is_refused_without_advice_to_unpickle(checkpoint):
    path, _, fingerprint = checkpoint
    path.write_bytes(pickle.dumps({"header": "anything"}))
    with pytest.raises(InvalidInputError, match=r"not an \.npz") as info:
        load_checkpoint(path, fingerprint)
    assert "allow_pickle" not in str(info.value)


def test_raw_bytes_member_of_a_model_is_refused(model, tmp_path):
    _, members = model
    path = tmp_path / "raw.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for name, value in members.items():
            with archive.open(f"{name}.npy", "w") as fh:
                if name == "weights_":
                    fh.write(value.tobytes())
                else:
                    np.lib.format.write_array(fh, value, allow_pickle=False)
    with pytest.raises(InvalidInputError, match=r"'weights_' is not a \.npy array"):
        load_model(path)


@pytest.mark.parametrize(
    ("name", "factor", "words"),
    [
        ("covariances_", 1e6, "not the inverses"),
        ("precisions_cholesky_", 1e160, r"over 1e\+150"),
        ("precisions_cholesky_", 2.0, "not the inverses"),
    ],
)
def test_covariances_must_match_the_precision_factors(model, X, tmp_path, name, factor, words):
    _, members = model
    edited = {**members, name: members[name] * factor}
    path = _save(tmp_path / "edited.npz", edited, _rehash(_header(edited), edited))
    with pytest.raises(InvalidInputError, match=words) as info:
        load_model(path)
    assert str(path) in str(info.value)


def test_checkpoint_parameters_are_checked(checkpoint):
    path, members, fingerprint = checkpoint
    _save(path, {**members, "m1_covariances": members["m1_covariances"] * 1e6})
    with pytest.raises(InvalidInputError, match="model 1: covariances are not the inverses"):
        load_checkpoint(path, fingerprint)


def test_header_without_created_is_refused(model, tmp_path):
    _, members = model
    header = _header(members)
    del header["created"]
    path = _save(tmp_path / "no-created.npz", members, header)
    with pytest.raises(InvalidInputError, match="'created'"):
        load_model(path)


def test_damaged_files_are_always_input_errors(model, checkpoint, tmp_path):
    # Truncated anywhere, or a few bytes changed anywhere: an InvalidInputError naming the
    # file, never another exception (zipfile's NotImplementedError for a damaged version
    # field, the .npy header parser's TokenError, a KeyError, ...).
    rng = random.Random(0)
    damaged = tmp_path / "damaged"
    messages = []
    for source, load in (
        (model[0], load_model),
        (checkpoint[0], lambda p: load_checkpoint(p, checkpoint[2])),
    ):
        data = source.read_bytes()
        for trial in range(400):
            changed = bytearray(data[: rng.randrange(len(data))] if trial % 3 == 0 else data)
            for _ in range(0 if trial % 3 == 0 else rng.choice((1, 2, 5))):
                changed[rng.randrange(len(changed))] = rng.randrange(256)
            damaged.write_bytes(bytes(changed))
            try:
                load(damaged)
            except InvalidInputError as err:
                messages.append(str(err))
    assert len(messages) > 700  # of 800: a few land where nothing matters (timestamps)
    assert all(str(damaged) in message for message in messages)


def test_initial_arrays_too_large_for_the_header_are_dropped_on_save(tmp_path):
    # 2 x 330 x 330 precisions_init of ~22 characters each: over the 16 MiB header limit.
    rng = np.random.default_rng(0)
    d = 330
    X = rng.normal(size=(700, d))
    noise = rng.normal(scale=1e-5, size=(2, d, d))
    precisions_init = np.eye(d) + (noise + np.swapaxes(noise, 1, 2)) / 2
    gm = GaussianMixture(2, precisions_init=precisions_init, max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(X)
    gm.save(tmp_path / "model.npz")
    header = _header(_members(tmp_path / "model.npz"))
    assert "precisions_init" in header["dropped_params"]
    assert "precisions_init" not in header["params"]
    loaded = load_model(tmp_path / "model.npz")
    assert loaded.precisions_init is None
    np.testing.assert_array_equal(loaded.means_, gm.means_)
