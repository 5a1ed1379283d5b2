"""The recipes in ``deploy/``, run for real: a cluster of separate processes on loopback.

The scheduler, the workers and the jobs are started with the commands of
``deploy/docker/docker-compose.yml``, word for word, in the environment of the image's
``ENV`` lines. Only what a container has and a test machine cannot are changed (see
:func:`localize`): the listening host and ports, the scheduler's host name, and the data
mount ``/data``. The Kubernetes manifests must hold the same commands, and the Slurm workers
run the job script dask-jobqueue writes. No LocalCluster here: every process is started,
and stopped, by this module, by its own process id.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import dask
import numpy as np
import psutil
import pytest
import yaml
import zarr
from distributed import Client, get_task_stream

import distgmm
from distgmm import GaussianMixture, read_zarr
from distgmm.checkpoint import checkpoint_iteration
from distgmm.cli._errors import EXIT_CLUSTER, EXIT_TERMINATED
from distgmm.synthetic import write_mixture_zarr

pytestmark = pytest.mark.cluster

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
COMPOSE = DEPLOY / "docker" / "docker-compose.yml"
PARAMETERS = ("weights_", "means_", "covariances_", "precisions_cholesky_", "lower_bounds_")


# ---------------------------------------------------------------------------- the recipes
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def compose_command(service: str) -> list[str]:
    return list(compose()["services"][service]["command"])


def image_environment() -> dict[str, str]:
    """The ``ENV KEY=VALUE`` lines of the Dockerfile, as the containers see them."""
    env = {}
    for line in (DEPLOY / "docker" / "Dockerfile").read_text().splitlines():
        if line.startswith("ENV "):
            key, _, value = line[4:].partition("=")
            env[key.strip()] = shlex.split(value)[0]
    return env


def manifests(name: str) -> list[dict]:
    return list(yaml.safe_load_all((DEPLOY / "kubernetes" / name).read_text()))


def container_args(document: dict, path: str) -> list[str]:
    node = document
    for key in path.split("."):
        node = node[int(key)] if key.isdigit() else node[key]
    return list(node["args"])


def mebibytes(text: str) -> float:
    """A memory size of compose ("2560M"), Kubernetes ("2560Mi"), Slurm or Dask ("2GiB")."""
    number, unit = re.fullmatch(r"([\d.]+)\s*([A-Za-z]*)", text).groups()
    scale = {"": 2**-20, "M": 1, "MI": 1, "MIB": 1, "G": 1024, "GI": 1024, "GIB": 1024}
    return float(number) * scale[unit.upper()]


# ---------------------------------------------------------------------------- processes
def localize(argv: list[str], *, port: int = 0, address: str = "", data: Path = Path("/data")):
    """``argv`` from a recipe, for processes on this machine's loopback.

    Changes only: the listening host 0.0.0.0 (to 127.0.0.1), the scheduler port 8786 and
    dashboard :8787 (to free ones), the scheduler's address (tcp://scheduler:8786, its
    Service name in Kubernetes), and paths under the /data mount (to ``data``).
    """
    out = []
    for i, arg in enumerate(argv):
        before = argv[i - 1] if i else ""
        if arg == "0.0.0.0" and before == "--host":
            arg = "127.0.0.1"
        elif arg == "8786" and before == "--port":
            arg = str(port)
        elif arg == ":8787" and before == "--dashboard-address":
            arg = "127.0.0.1:0"
        elif re.fullmatch(r"tcp://[\w-]*scheduler:8786", arg):
            arg = address
        elif arg.startswith("/data/"):
            arg = str(data / arg.removeprefix("/data/"))
        out.append(arg)
    return out


def executable(argv: list[str]) -> list[str]:
    """The console scripts of this environment, which the image has on its PATH."""
    if os.sep in argv[0]:
        return list(argv)
    script = Path(sys.executable).with_name(argv[0])
    return [str(script) if script.exists() else argv[0], *argv[1:]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Processes:
    """Processes this test started, each in its own session; stopped by their own ids.

    Their output goes to files in ``logs``, whose ends :meth:`logs` gives for an assertion
    message: the scheduler's and workers' side of a failure.
    """

    def __init__(self, logs: Path) -> None:
        self.started: list[subprocess.Popen] = []
        self.log_dir = logs

    def start(self, argv: list[str], **kwargs) -> subprocess.Popen:
        if "stdout" not in kwargs or "stderr" not in kwargs:
            name = "-".join(Path(arg).name for arg in argv[:2])
            log = open(self.log_dir / f"{len(self.started):02d}-{name}.log", "w")  # noqa: SIM115
            kwargs.setdefault("stdout", log)
            kwargs.setdefault("stderr", subprocess.STDOUT if kwargs["stdout"] is log else log)
        proc = subprocess.Popen(
            executable(argv),
            env={**os.environ, **image_environment()},
            start_new_session=True,
            **kwargs,
        )
        self.started.append(proc)
        for stream in ("stdout", "stderr"):
            if hasattr(kwargs[stream], "close"):
                kwargs[stream].close()  # the child has its own copy
        return proc

    def logs(self, lines: int = 15) -> str:
        """The last lines of every log, newest process first."""
        parts = []
        for path in sorted(self.log_dir.glob("*.log"), reverse=True):
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path.name}\n" + "\n".join(tail))
        return "\n".join(["", *parts])

    @staticmethod
    def kill(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        """Signal ``proc`` and its children (a ``dask worker`` is a nanny and a worker)."""
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
        proc.wait(timeout=30)

    def stop(self) -> None:
        for proc in reversed(self.started):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.started:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            if proc.stdout:
                proc.stdout.close()
            if proc.stderr:
                proc.stderr.close()


class Cluster:
    """A scheduler and the compose file's workers, started with its commands."""

    def __init__(self, processes: Processes) -> None:
        self.processes = processes
        port = free_port()
        self.scheduler = processes.start(localize(compose_command("scheduler"), port=port))
        self.address = f"tcp://127.0.0.1:{port}"
        self.workers: list[subprocess.Popen] = []
        self.replicas = compose()["services"]["worker"]["deploy"]["replicas"]
        for _ in range(self.replicas):
            self.add_worker()
        with Client(self.address, timeout=60) as client:
            client.wait_for_workers(self.replicas, timeout=60)

    def add_worker(self) -> subprocess.Popen:
        argv = localize(compose_command("worker"), address=self.address)
        worker = self.processes.start(argv)
        self.workers.append(worker)
        return worker

    def ensure_workers(self) -> None:
        """Back to the compose file's number of workers, after a test killed some."""
        self.workers = [w for w in self.workers if w.poll() is None]
        while len(self.workers) < self.replicas:
            self.add_worker()
        with Client(self.address, timeout=60) as client:
            client.wait_for_workers(self.replicas, timeout=60)

    def worker_process(self, worker_address: str, client: Client) -> subprocess.Popen:
        """Our ``dask worker`` process whose worker listens at ``worker_address``."""
        pid = client.run(os.getpid, workers=[worker_address])[worker_address]
        for proc in self.workers:
            if proc.poll() is None:
                children = psutil.Process(proc.pid).children(recursive=True)
                if pid in (proc.pid, *(c.pid for c in children)):
                    return proc
        raise AssertionError(f"no worker process of ours has pid {pid}")


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """The compose file's ``data`` job, run as it is: the example dataset."""
    folder = tmp_path_factory.mktemp("data")
    argv = localize(compose_command("data"), data=folder)
    result = subprocess.run(executable(argv), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["data"] == str(folder / "points.zarr")
    return folder / "points.zarr"


@pytest.fixture(scope="module")
def reference(data) -> GaussianMixture:
    """The fit the compose ``fit`` job describes, done in this process on threads."""
    argv = compose_command("fit")
    k = int(argv[argv.index("-k") + 1])
    return GaussianMixture(k, random_state=0).fit(read_zarr(data))


@pytest.fixture(scope="module")
def processes(tmp_path_factory):
    started = Processes(tmp_path_factory.mktemp("logs"))
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def cluster(processes) -> Cluster:
    return Cluster(processes)


@pytest.fixture
def workers(cluster) -> Cluster:
    cluster.ensure_workers()
    return cluster


def run_folder(tmp_path: Path, data: Path) -> Path:
    """A /data mount of its own for one run, with the shared dataset in it."""
    (tmp_path / data.name).symlink_to(data, target_is_directory=True)
    return tmp_path


def fit_job(folder: Path, address: str) -> list[str]:
    return localize(compose_command("fit"), address=address, data=folder)


def assert_same_model(path: Path, reference: GaussianMixture) -> None:
    model = distgmm.load(path)
    assert model.converged_
    for name in PARAMETERS:
        np.testing.assert_array_equal(getattr(model, name), getattr(reference, name), name)


def running(fit: subprocess.Popen | threading.Thread) -> bool:
    return fit.is_alive() if isinstance(fit, threading.Thread) else fit.poll() is None


def wait_for_iteration(checkpoint: Path, iteration: int, fit) -> int:
    deadline = time.monotonic() + 240
    while (checkpoint_iteration(checkpoint) or 0) < iteration:
        assert running(fit), "the fit ended before the failure could be injected"
        assert time.monotonic() < deadline, "the fit made no progress"
        time.sleep(0.02)
    return checkpoint_iteration(checkpoint)


def wait_until_busy(watcher: Client, fit) -> list[str]:
    """The workers running a task of the fit, once some are: to fail it mid-pass."""
    deadline = time.monotonic() + 120
    while True:
        busy = [worker for worker, tasks in watcher.processing().items() if tasks]
        if busy:
            return busy
        assert running(fit), "the fit ended before the failure could be injected"
        assert time.monotonic() < deadline, "no task of the fit ran"
        time.sleep(0.01)


# ---------------------------------------------------------------------------- the files
def test_recipes_parse_and_agree():
    """Every YAML file parses; Kubernetes and Slurm run what compose runs."""
    services = compose()["services"]
    assert set(services) == {"scheduler", "worker", "data", "fit"}
    kinds = {
        path.name: [doc["kind"] for doc in yaml.safe_load_all(path.read_text())]
        for path in (DEPLOY / "kubernetes").glob("*.yaml")
    }
    assert kinds == {
        "daskcluster.yaml": ["DaskCluster"],
        "data-pvc.yaml": ["PersistentVolumeClaim"],
        "data-job.yaml": ["Job"],
        "fit-job.yaml": ["Job"],
    }
    (cluster,) = manifests("daskcluster.yaml")
    scheduler_args = container_args(cluster, "spec.scheduler.spec.containers.0")
    worker_args = container_args(cluster, "spec.worker.spec.containers.0")
    assert scheduler_args == compose_command("scheduler")
    # the operator's worker name, so that it retires the right pods when scaling down
    assert worker_args[3:5] == ["--name", "$(DASK_WORKER_NAME)"]
    assert localize(worker_args[:3] + worker_args[5:], address="A") == localize(
        compose_command("worker"), address="A"
    )
    assert cluster["spec"]["worker"]["replicas"] == services["worker"]["deploy"]["replicas"]
    for name, service in (("data-job.yaml", "data"), ("fit-job.yaml", "fit")):
        (job,) = manifests(name)
        args = container_args(job, "spec.template.spec.containers.0")
        assert localize(args, address="A") == localize(compose_command(service), address="A")
    # The fit Job retries exactly the exit codes after which a rerun with --resume goes on.
    rules = manifests("fit-job.yaml")[0]["spec"]["podFailurePolicy"]["rules"]
    (fail,) = [rule for rule in rules if rule["action"] == "FailJob"]
    assert fail["onExitCodes"]["operator"] == "NotIn"
    assert fail["onExitCodes"]["values"] == [EXIT_CLUSTER, EXIT_TERMINATED] == [4, 143]

    # Each worker's Dask limit, and the container's (or Slurm job's) a little above it.
    limit = compose_command("worker")[compose_command("worker").index("--memory-limit") + 1]
    container = services["worker"]["deploy"]["resources"]["limits"]["memory"]
    k8s = cluster["spec"]["worker"]["spec"]["containers"][0]["resources"]["limits"]["memory"]
    slurm = slurm_recipe().parser().parse_args([])
    assert mebibytes(slurm.memory) == mebibytes(limit)
    assert mebibytes(container) == mebibytes(k8s) == mebibytes(slurm.job_mem) > mebibytes(limit)
    assert slurm.jobs == services["worker"]["deploy"]["replicas"]


def test_localize_changes_only_what_a_container_has():
    argv = ["dask", "scheduler", "--host", "0.0.0.0", "--port", "8786", "-k", "8786"]
    expected = ["dask", "scheduler", "--host", "127.0.0.1", "--port", "5", "-k", "8786"]
    assert localize(argv, port=5) == expected
    argv = ["x", "/data/a.zarr", "--scheduler", "tcp://distgmm-scheduler:8786", "/other/data/b"]
    assert localize(argv, address="tcp://127.0.0.1:9", data=Path("/tmp/d")) == [
        "x",
        "/tmp/d/a.zarr",
        "--scheduler",
        "tcp://127.0.0.1:9",
        "/other/data/b",
    ]


# ---------------------------------------------------------------------------- on the cluster
def test_cli_fit_job_on_the_cluster(workers, data, reference, tmp_path):
    folder = run_folder(tmp_path, data)
    result = subprocess.run(
        executable(fit_job(folder, workers.address)), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr + workers.processes.logs()
    record = json.loads(result.stdout)
    assert record["n_iter"] == reference.n_iter_ >= 5  # long enough to kill things mid-fit
    assert_same_model(folder / "model.npz", reference)


def test_python_api_on_the_cluster_and_data_released(workers, data, reference):
    X = read_zarr(data)
    remote = GaussianMixture(reference.n_components, random_state=0, client=workers.address)
    remote.fit(X)
    for name in PARAMETERS:
        np.testing.assert_array_equal(getattr(remote, name), getattr(reference, name), name)
    with Client(workers.address) as client:
        labels = remote.set_params(client=client).predict(X).compute()
        # the data were persisted on the workers for the fit and released after it
        deadline = time.monotonic() + 10
        while any(client.who_has().values()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(client.who_has().values())
    np.testing.assert_array_equal(labels, reference.predict(X).compute())


def test_worker_killed_mid_fit_gives_the_same_model(workers, data, reference, tmp_path):
    folder = run_folder(tmp_path, data)
    fit = workers.processes.start(fit_job(folder, workers.address), stderr=subprocess.PIPE)
    with Client(workers.address) as watcher:
        at_kill = wait_for_iteration(folder / "fit.ckpt", 2, fit)
        busy = wait_until_busy(watcher, fit)
        Processes.kill(workers.worker_process(busy[0], watcher))
        assert fit.poll() is None  # the worker died mid-fit
        _, stderr = fit.communicate(timeout=300)
        assert fit.returncode == 0, stderr + workers.processes.logs()
        assert busy[0] not in watcher.scheduler_info(n_workers=-1)["workers"]
    assert at_kill < reference.n_iter_
    assert_same_model(folder / "model.npz", reference)


def test_numpy_chunks_lost_with_a_worker_are_scattered_again(workers, data, tmp_path, caplog):
    """numpy input is scattered, the cluster's only copy; this process sends it again."""
    X = zarr.open_array(data, mode="r")[:]
    weights = np.random.default_rng(0).uniform(0.5, 2.0, len(X))  # scattered alike
    expected = GaussianMixture(8, random_state=0).fit(X, sample_weight=weights)  # same chunks
    failures = []
    with Client(workers.address) as client:
        gm = GaussianMixture(8, random_state=0, client=client, checkpoint=tmp_path / "ck")

        def fit():
            try:
                gm.fit(X, sample_weight=weights)
            except Exception as err:
                failures.append(err)

        fitting = threading.Thread(target=fit)
        fitting.start()
        try:
            at_kill = wait_for_iteration(tmp_path / "ck", 2, fitting)
            busy = wait_until_busy(client, fitting)
            Processes.kill(workers.worker_process(busy[0], client))
            assert fitting.is_alive()
        finally:
            fitting.join(timeout=300)
    assert not failures, failures
    assert at_kill < expected.n_iter_
    assert "scattered chunks were lost with their worker: sending them again" in caplog.text
    for name in PARAMETERS:
        np.testing.assert_array_equal(getattr(gm, name), getattr(expected, name), name)


def test_restarted_worker_is_used_again(workers, data, reference):
    with Client(workers.address) as client:
        old = workers.workers[0]
        gone = [
            w
            for w in client.scheduler_info(n_workers=-1)["workers"]
            if workers.worker_process(w, client) is old
        ]
        Processes.kill(old)
        deadline = time.monotonic() + 30
        while set(gone) & set(client.scheduler_info(n_workers=-1)["workers"]):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        before = set(client.scheduler_info(n_workers=-1)["workers"])
        workers.add_worker()  # the compose worker command again, as `restart:` would
        client.wait_for_workers(workers.replicas, timeout=60)
        (new,) = set(client.scheduler_info(n_workers=-1)["workers"]) - before
        model = GaussianMixture(reference.n_components, random_state=0, client=client)
        with get_task_stream(client) as stream:
            model.fit(read_zarr(data))
        assert new in {task["worker"] for task in stream.data}
    for name in PARAMETERS:
        np.testing.assert_array_equal(getattr(model, name), getattr(reference, name), name)


def test_scheduler_killed_then_resumed_on_a_new_cluster(processes, data, reference, tmp_path):
    folder = run_folder(tmp_path, data)
    first = Cluster(processes)
    fit = processes.start(
        fit_job(folder, first.address), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    at_kill = wait_for_iteration(folder / "fit.ckpt", 2, fit)
    watcher = Client(first.address)
    try:
        wait_until_busy(watcher, fit)  # the scheduler dies with tasks of the fit running
        Processes.kill(first.scheduler)
    finally:
        with contextlib.suppress(Exception):
            watcher.close(timeout=5)
    stdout, stderr = fit.communicate(timeout=120)
    assert fit.returncode == 4, stderr + processes.logs()
    assert stdout == ""
    assert "Traceback" not in stderr
    (line,) = stderr.splitlines()
    assert line.startswith(
        f"distgmm: error: lost the connection to the Dask scheduler at {first.address}"
    )
    assert f"the checkpoint {folder / 'fit.ckpt'} (iteration " in line
    assert "rerun with --resume" in line
    assert at_kill <= checkpoint_iteration(folder / "fit.ckpt") < reference.n_iter_
    for worker in first.workers:  # they would wait for their scheduler for ever
        Processes.kill(worker)

    second = Cluster(processes)
    result = subprocess.run(
        executable(fit_job(folder, second.address)), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr + processes.logs()
    assert json.loads(result.stdout)["n_iter"] == reference.n_iter_
    assert_same_model(folder / "model.npz", reference)


def test_unreachable_scheduler_is_a_cluster_error(tmp_path, data):
    address = f"tcp://127.0.0.1:{free_port()}"
    argv = fit_job(run_folder(tmp_path, data), address)
    result = subprocess.run(
        executable(argv),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"},
    )
    assert result.returncode == 4, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"distgmm: error: cannot reach a Dask scheduler at {address}")


def test_no_worker_joining_is_a_cluster_error(processes, data, tmp_path, capsys):
    from distgmm.cli import main

    port = free_port()
    scheduler = processes.start(localize(compose_command("scheduler"), port=port))
    address = f"tcp://127.0.0.1:{port}"
    with Client(address, timeout=60):
        pass  # the scheduler is up, and no worker will join it
    with dask.config.set({"distributed.scheduler.no-workers-timeout": "1s"}):
        assert main(fit_job(run_folder(tmp_path, data), address)[1:]) == 4
    Processes.kill(scheduler)
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith(f"distgmm: error: no worker joined the Dask scheduler at {address}")


def _die() -> None:
    os._exit(1)  # the worker process ends mid-task, as when the OS kills it for memory


def test_tasks_that_kill_their_workers_are_a_cluster_error():
    """Past ``allowed-failures``, distributed gives up on a task (KilledWorker): exit 4."""
    from distgmm.cli._errors import ClusterError
    from distgmm.cli._runtime import _cluster_failures

    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        distgmm.local_client(1, memory_limit="1GiB", dashboard_address=None) as client,
        pytest.raises(ClusterError, match=r"workers that died under it.*--chunk-mb"),
        _cluster_failures(client, "the local cluster"),
    ):
        client.submit(_die, pure=False).result(timeout=120)


def test_no_workers_left_is_a_cluster_error():
    """Tasks waiting for workers past ``no-workers-timeout`` (set by the Slurm recipe)."""
    from distgmm.cli._errors import ClusterError
    from distgmm.cli._runtime import _cluster_failures

    with (
        dask.config.set({"distributed.scheduler.no-workers-timeout": "1s"}),
        distgmm.local_client(n_workers=0, dashboard_address=None) as client,
        pytest.raises(ClusterError, match="had no workers left"),
        _cluster_failures(client, "the local cluster"),
    ):
        client.submit(sum, [1, 2], pure=False).result(timeout=120)


def test_ten_concurrent_fits_from_separate_processes(workers, tmp_path):
    """Ten ``distgmm fit`` processes at once on one cluster, each on its own data."""
    jobs = []
    for i in range(10):
        path = tmp_path / f"points{i}.zarr"
        write_mixture_zarr(path, 20_000 + 1000 * i, 4, 2 + i % 4, seed=i)
        expected = GaussianMixture(2 + i % 4, random_state=i).fit(read_zarr(path))
        argv = ["distgmm", "fit", str(path), "-k", str(2 + i % 4), "--seed", str(i)]
        argv += ["--out", str(tmp_path / f"model{i}.npz"), "--json"]
        jobs.append(([*argv, "--scheduler", workers.address], expected, tmp_path / f"model{i}.npz"))
    running = [
        workers.processes.start(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for argv, _, _ in jobs
    ]
    for proc, (_, expected, model) in zip(running, jobs, strict=True):
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr + workers.processes.logs()
        assert json.loads(stdout)["n_iter"] == expected.n_iter_
        fitted = distgmm.load(model)
        for name in PARAMETERS:
            np.testing.assert_array_equal(getattr(fitted, name), getattr(expected, name))


# ---------------------------------------------------------------------------- Slurm
def slurm_recipe():
    spec = importlib.util.spec_from_file_location(
        "fit_on_slurm", DEPLOY / "slurm" / "fit_on_slurm.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_slurm_job_scripts_run_the_fit(processes, data, reference, tmp_path):
    """The workers dask-jobqueue would submit, run by bash instead of sbatch."""
    pytest.importorskip("dask_jobqueue", reason="dask-jobqueue (the slurm extra) is missing")
    recipe = slurm_recipe()
    folder = run_folder(tmp_path, data)
    fit_args = localize(compose_command("fit"), data=folder)[2:-2]  # less distgmm fit, --scheduler
    args = recipe.parser().parse_args(["--interface", "lo", "--", *fit_args])
    with recipe.make_cluster(args, scheduler_options={"dashboard_address": ":0"}) as cluster:
        script = cluster.job_script()
        assert "#SBATCH --mem=2560M" in script
        for job in range(args.jobs):
            # sbatch would run this file; jobqueue names each job's worker like this
            path = tmp_path / f"job{job}.sh"
            path.write_text(script.replace("dummy-name", f"slurm-job-{job}"))
            processes.start(["bash", str(path)])
        with Client(cluster) as client:
            client.wait_for_workers(args.jobs, timeout=60)
        command = recipe.fit_command(cluster.scheduler_address, fit_args)
        result = subprocess.run(executable(command), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr + processes.logs()
    assert_same_model(folder / "model.npz", reference)
