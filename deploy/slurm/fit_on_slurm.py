"""Fit with distgmm on Slurm: dask-jobqueue submits the Dask workers as Slurm jobs, then
``distgmm fit`` runs against their scheduler, which lives in this process.

Run it where ``sbatch`` works (a login node, or inside an allocation), with the data on a
file system the compute nodes share::

    pip install "distgmm[slurm]"
    python fit_on_slurm.py --jobs 2 --queue normal -- \\
        /scratch/$USER/points.zarr -k 8 --out model.npz --checkpoint fit.ckpt --resume --json

Everything after ``--`` is passed to ``distgmm fit``, with ``--scheduler`` added. The exit
code is the fit's (see the distgmm README); with ``--checkpoint ... --resume`` running the
same command again continues an interrupted fit.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

# Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which halves the EM speed
# (page faults on every large numpy temporary); the image in deploy/docker unsets it too.
WORKER_PROLOGUE = [
    "export DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON=\"{'MALLOC_TRIM_THRESHOLD_': None}\"",
]


def make_cluster(args: argparse.Namespace, **extra):
    """The SLURMCluster: one single-threaded worker per Slurm job, as in deploy/docker."""
    from dask_jobqueue import SLURMCluster

    return SLURMCluster(
        cores=1,
        processes=1,
        memory=args.memory,
        # room for the nanny process beside the worker's own limit
        job_mem=args.job_mem,
        walltime=args.walltime,
        queue=args.queue,
        account=args.account,
        interface=args.interface,
        job_script_prologue=WORKER_PROLOGUE,
        **extra,
    )


def fit_command(scheduler_address: str, fit_args: list[str]) -> list[str]:
    """The ``distgmm fit`` command line, against the cluster's scheduler."""
    # distgmm of this interpreter's environment, which is also the one the jobs run
    script = Path(sys.executable).with_name("distgmm")
    distgmm = str(script) if script.exists() else "distgmm"
    return [distgmm, "fit", *fit_args, "--scheduler", scheduler_address]


def parser() -> argparse.ArgumentParser:
    """This script's options; the defaults match the workers of deploy/docker."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--jobs", type=int, default=2, help="Slurm jobs, one worker each (2)")
    p.add_argument("--memory", default="2GiB", help="each worker's memory limit (2GiB)")
    p.add_argument("--job-mem", default="2560M", help="each Slurm job's --mem (2560M)")
    p.add_argument("--walltime", default="02:00:00", help="each job's time limit (02:00:00)")
    p.add_argument("--queue", help="Slurm partition")
    p.add_argument("--account", help="Slurm account")
    p.add_argument("--interface", help="network interface the nodes reach each other on")
    p.add_argument(
        "--wait", type=float, default=3600, help="seconds to wait for the first worker (3600)"
    )
    p.add_argument(
        "--no-workers-timeout",
        default="10 minutes",
        help="end the fit (exit 4) after this long without any worker, e.g. once every job "
        "reached its walltime (10 minutes)",
    )
    p.add_argument("fit_args", nargs=argparse.REMAINDER, help="-- then the distgmm fit arguments")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    fit_args = args.fit_args[1:] if args.fit_args[:1] == ["--"] else args.fit_args
    if not fit_args:
        parser().error("give the distgmm fit arguments after --, e.g. -- data.zarr -k 8")
    import dask
    from distributed import Client

    # The scheduler lives in this process: with no workers left (every job ended), its
    # tasks fail after this timeout, and distgmm exits with 4 and its checkpoint, where
    # they would otherwise wait for ever.
    timeout = {"distributed.scheduler.no-workers-timeout": args.no_workers_timeout}
    with dask.config.set(timeout), make_cluster(args) as cluster, Client(cluster) as client:
        cluster.scale(jobs=args.jobs)
        print(f"dashboard: {cluster.dashboard_link}", file=sys.stderr, flush=True)
        # Jobs may queue for a while; distgmm itself waits only two minutes for workers.
        try:
            client.wait_for_workers(1, timeout=args.wait)
        except TimeoutError:
            print(
                f"fit_on_slurm: error: no worker job started within {args.wait:g} s; see "
                "squeue --me, and the jobs' output files",
                file=sys.stderr,
            )
            return 4
        # distgmm waits as long itself (its default is 2 minutes), by the same setting.
        env = {
            **os.environ,
            "DASK_DISTRIBUTED__SCHEDULER__NO_WORKERS_TIMEOUT": args.no_workers_timeout,
        }
        return subprocess.run(fit_command(cluster.scheduler_address, fit_args), env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
