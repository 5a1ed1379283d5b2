"""Inputs, outputs and model files on S3: a real S3 protocol server (moto's) on loopback.

As s3fs's own tests do: moto's server mode answers the S3 HTTP API on 127.0.0.1, and
every client (this process, dask workers, the CLI in a subprocess) talks to it through
s3fs with dummy credentials from the environment.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import zarr
from test_cli import assert_one_error_line, run, run_json
from test_deploy import free_port

import distgmm
from distgmm import GaussianMixture
from distgmm._ownfiles import HOST

pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")

#: Dummy credentials and a region: botocore then never asks an instance metadata service.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """An S3 endpoint on loopback with an empty bucket ``test``, and its storage options."""
    patch = pytest.MonkeyPatch()
    for name, value in AWS_ENV.items():
        patch.setenv(name, value)
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    # Credentials in the options too: worker processes started before this fixture set
    # the environment need them.
    options = {
        "key": AWS_ENV["AWS_ACCESS_KEY_ID"],
        "secret": AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        "endpoint_url": endpoint,
    }
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
    fs = s3fs.S3FileSystem(**options)
    fs.mkdir("test")
    try:
        yield fs, options, endpoint
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
        server.stop()
        patch.undo()


@pytest.fixture(scope="module")
def model(make_mixture):
    X, _ = make_mixture(n=1200, d=3, k=3, seed=4)
    return X, GaussianMixture(3, random_state=0).fit(X)


@pytest.mark.parametrize("name", ["labels.zarr", "labels.parquet"])
def test_write_predictions_to_s3(s3, model, name):
    fs, options, _ = s3
    X, gm = model
    url = f"s3://test/write/{name}"
    gm.write_predictions(X, url, proba=True, storage_options=options)
    if name.endswith(".zarr"):
        group = zarr.open_group(url, mode="r", storage_options=options)
        labels, proba = group["labels"][:], group["probabilities"][:]
    else:
        result = pd.read_parquet(url, storage_options=options)
        labels = result["label"].to_numpy()
        proba = result[[f"proba_{k}" for k in range(3)]].to_numpy()
    np.testing.assert_array_equal(labels, gm.predict(X))
    np.testing.assert_allclose(proba, gm.predict_proba(X), atol=1e-12)
    fs.invalidate_cache()
    assert fs.ls("test/write", detail=False) == [f"test/write/{name}"]  # no temporary left
    before = sorted(fs.find(url))
    # An existing output is kept unless asked, then replaced.
    with pytest.raises(FileExistsError):
        gm.write_predictions(X, url, storage_options=options)
    assert sorted(fs.find(url)) == before
    gm.write_predictions(X[:600], url, overwrite=True, storage_options=options)
    fs.invalidate_cache()
    assert fs.ls("test/write", detail=False) == [f"test/write/{name}"]
    if name.endswith(".zarr"):
        group = zarr.open_group(url, mode="r", storage_options=options)
        assert group["labels"].shape == (600,)
        assert "probabilities" not in group
    else:
        replaced = pd.read_parquet(url, storage_options=options)
        assert list(replaced.columns) == ["label"]
        assert len(replaced) == 600
    fs.rm("test/write", recursive=True)


def test_model_files_and_data_on_s3(s3, model):
    fs, options, _ = s3
    X, gm = model
    url = "s3://test/models/model.npz"
    gm.save(url, storage_options=options)
    loaded = distgmm.load(url, storage_options=options)
    np.testing.assert_array_equal(loaded.means_, gm.means_)
    np.testing.assert_array_equal(loaded.predict(X), gm.predict(X))
    fs.invalidate_cache()
    assert fs.ls("test/models", detail=False) == ["test/models/model.npz"]
    with pytest.raises(distgmm.InvalidInputError, match=r"s3://test/models/gone\.npz"):
        distgmm.load("s3://test/models/gone.npz", storage_options=options)
    # A damaged file is refused like a local one.
    fs.pipe_file("test/models/bad.npz", fs.cat_file("test/models/model.npz")[:300])
    with pytest.raises(distgmm.InvalidInputError, match=r"bad\.npz"):
        distgmm.load("s3://test/models/bad.npz", storage_options=options)
    # Data read from S3: Zarr and Parquet.
    zarr.create_array(
        zarr.storage.FsspecStore.from_url("s3://test/data/x.zarr", storage_options=options),
        shape=X.shape, chunks=(300, 3), dtype="f8",
    )[:] = X  # fmt: skip
    pd.DataFrame(X, columns=["a", "b", "c"]).to_parquet(
        "s3://test/data/x.parquet", storage_options=options, row_group_size=300
    )
    for read in (
        distgmm.read_zarr("s3://test/data/x.zarr", storage_options=options),
        distgmm.read_parquet("s3://test/data/x.parquet", storage_options=options),
    ):
        np.testing.assert_array_equal(read.compute(), X)


def test_copy_cut_short_is_finished_by_the_next_writer(s3, model):
    """A writer killed while copying its output in left part of it: the next one finishes."""
    fs, options, _ = s3
    X, gm = model
    gm.write_predictions(X, "s3://test/cut/whole.parquet", storage_options=options)
    whole = sorted(fs.find("test/cut/whole.parquet"))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    tag = f"{HOST}-{dead.pid}-{'0' * 16}"
    fs.copy("test/cut/whole.parquet", f"test/cut/.out.parquet.tmp-{tag}", recursive=True)
    fs.pipe_file(f"test/cut/.out.parquet.copy-{tag}", b"")
    fs.copy(whole[0], "test/cut/out.parquet/" + whole[0].rsplit("/", 1)[1])  # cut short
    with pytest.raises(FileExistsError):
        gm.write_predictions(X, "s3://test/cut/out.parquet", storage_options=options)
    fs.invalidate_cache()
    assert fs.ls("test/cut", detail=False) == ["test/cut/out.parquet", "test/cut/whole.parquet"]
    pd.testing.assert_frame_equal(
        pd.read_parquet("s3://test/cut/out.parquet", storage_options=options),
        pd.read_parquet("s3://test/cut/whole.parquet", storage_options=options),
    )


@pytest.mark.cluster
def test_cli_on_s3(s3, model, cluster1):
    fs, options, endpoint = s3
    X, _ = model
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame.to_parquet("s3://test/cli/x.parquet", storage_options=options, row_group_size=300)
    given = ("--storage-options", json.dumps(options))
    scheduler = ("--scheduler", cluster1.scheduler.address)
    model_url, out = "s3://test/cli/model.npz", "s3://test/cli/labels.parquet"
    record = run_json("fit", "s3://test/cli/x.parquet", "-k", "3", "--out", model_url, *given,
                      *scheduler)  # fmt: skip
    assert record["model"] == model_url
    fitted = distgmm.load(model_url, storage_options=options)
    assert run_json("info", model_url, *given)["n_components"] == 3
    refused = run("fit", "s3://test/cli/x.parquet", "-k", "2", "--out", model_url, *given)
    assert "exists" in assert_one_error_line(refused, 2)

    run_json("predict", model_url, "s3://test/cli/x.parquet", "--out", out, "--keep-columns",
             "a", "--log-likelihood", *given, *scheduler)  # fmt: skip
    result = pd.read_parquet(out, storage_options=options)
    np.testing.assert_array_equal(result["a"], X[:, 0])
    np.testing.assert_array_equal(result["label"], fitted.predict(frame))
    again = run("predict", model_url, "s3://test/cli/x.parquet", "--out", out, *given, *scheduler)
    assert "--overwrite" in assert_one_error_line(again, 2)
    fs.invalidate_cache()
    assert fs.ls("test/cli", detail=False) == [
        "test/cli/labels.parquet", "test/cli/model.npz", "test/cli/x.parquet"
    ]  # fmt: skip

    # The environment instead of --storage-options: the endpoint as botocore reads it, and
    # a local cluster whose workers inherit it.
    env = {**AWS_ENV, "AWS_ENDPOINT_URL_S3": endpoint}
    zarr_out = "s3://test/cli/labels.zarr"
    from_env = run("predict", model_url, "s3://test/cli/x.parquet", "--out", zarr_out,
                   "--workers", "1", env=env)  # fmt: skip
    assert from_env.returncode == 0, from_env.stderr
    labels = zarr.open_group(zarr_out, mode="r", storage_options=options)["labels"][:]
    np.testing.assert_array_equal(labels, fitted.predict(frame))


@pytest.mark.parametrize(
    ("text", "problem"), [("{bad", "not valid JSON"), ("[1]", "not a JSON object")]
)
def test_cli_refuses_bad_storage_options(text, problem):
    result = run("info", "s3://test/model.npz", "--storage-options", text)
    assert problem in assert_one_error_line(result, 2)


def test_cli_checkpoint_must_be_local(tmp_path):
    """Refused before the fit, not after its first iteration."""
    data = tmp_path / "x.npy"
    np.save(data, np.random.default_rng(0).normal(size=(50, 2)))
    result = run("fit", data, "-k", "2", "--out", tmp_path / "m.npz", "--checkpoint",
                 "s3://test/fit.ckpt", "--workers", "1")  # fmt: skip
    assert "--checkpoint s3://test/fit.ckpt is a URL" in assert_one_error_line(result, 2)


@pytest.mark.cluster
def test_the_readmes_s3_example_runs_word_for_word(s3, model):
    """The README's S3 command, its endpoint pointed at this server: a model file, a
    Hive-partitioned Parquet folder (``year=``) and the output, all on S3."""
    import re
    import shlex
    from pathlib import Path

    fs, options, endpoint = s3
    X, _ = model
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = re.search(r"```bash\n(distgmm predict s3://.*?)```", readme, re.S).group(1)
    argv = shlex.split(block.replace("\\\n", " ").replace("http://minio:9000", endpoint))
    fs.mkdir("bucket")
    frame = pd.DataFrame({"id": np.arange(len(X)), "f0": X[:, 0], "f1": X[:, 1], "f2": X[:, 2]})
    # fitted on named columns: predict reads those of the events by name (not id or year)
    gm = GaussianMixture(3, random_state=0).fit(frame[["f0", "f1", "f2"]])
    gm.save("s3://bucket/model.npz", storage_options=options)
    for year, rows in ((2020, slice(0, 500)), (2021, slice(500, None))):
        frame[rows].to_parquet(f"s3://bucket/events/year={year}/part-0.parquet",
                               storage_options=options, index=False)  # fmt: skip
    # credentials from the environment, which the command's own local cluster inherits
    result = run(*argv[1:], env=AWS_ENV)
    assert result.returncode == 0, result.stderr
    labels = pd.read_parquet("s3://bucket/labels.parquet", storage_options=options)
    np.testing.assert_array_equal(labels["id"], frame["id"])
    np.testing.assert_array_equal(labels["year"], [2020] * 500 + [2021] * (len(X) - 500))
    np.testing.assert_array_equal(labels["label"], gm.predict(frame[["f0", "f1", "f2"]]))
