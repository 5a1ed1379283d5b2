"""The tasks of a pass are named ``distgmm-pass-<n>-<token>...`` (issue 18, item 7): the
dashboard groups every task of every pass under one readable name, ``distgmm-pass``, where it
showed each kernel and a ``tuple`` of parameters per pass; the keys stay distinct across
passes and fits, so none gets another computation's result."""

from __future__ import annotations

import re
from collections import defaultdict

import dask.array as da
import pytest
from dask.utils import key_split
from distributed import get_task_stream

from distgmm import GaussianMixture

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),  # max_iter=4
]

PASS_KEY = re.compile(r"^distgmm-pass-(\d+)-([0-9a-f]{32})(?:-(parameters|combine-\d+))?$")


def _passes(tasks) -> dict[int, dict]:
    """The tasks of each pass by number: its token, chunk task count and other keys."""
    passes: dict[int, dict] = defaultdict(lambda: {"tokens": set(), "chunks": 0, "other": set()})
    for task in tasks:
        key = task["key"]
        name = key[0] if isinstance(key, tuple) else key
        match = PASS_KEY.match(name)
        if key_split(key) != "distgmm-pass":
            continue
        assert match, key
        number, token, suffix = match.groups()
        entry = passes[int(number)]
        entry["tokens"].add(token)
        if suffix is None:
            entry["chunks"] += 1
        else:
            entry["other"].add(suffix)
    return passes


@pytest.mark.parametrize("persist", [False, True], ids=["streamed", "persisted"])
def test_pass_tasks_share_one_name_and_distinct_keys(cluster1, make_mixture, persist):
    X, _ = make_mixture(n=2000, d=3, k=3, seed=1)
    dX = da.from_array(X, chunks=(100, 3))  # 20 chunks: a two-level reduction
    fits = []
    for _ in range(2):
        with get_task_stream(cluster1) as stream:
            gm = GaussianMixture(3, random_state=0, client=cluster1, max_iter=4, persist=persist)
            gm.fit(dX)
        fits.append((gm, stream.data))
    tokens = []
    for gm, tasks in fits:
        names = {key_split(t["key"]) for t in tasks}
        assert not names & {"block_stats", "chunk_task", "combine_parts", "tuple"}, names
        passes = _passes(tasks)
        assert sorted(passes) == list(range(1, len(passes) + 1))  # numbered from 1
        assert len(passes) > gm.n_iter_  # the k-means passes, then one per EM iteration
        for entry in passes.values():
            assert len(entry["tokens"]) == 1
            assert entry["chunks"] == 20
            assert entry["other"] == {
                "parameters",
                "combine-0",
                "combine-1",
                "combine-2",
                "combine-3",
            }
            tokens += entry["tokens"]
    assert len(tokens) == len(set(tokens))  # no key of a pass comes back
    assert fits[0][0].lower_bound_ == fits[1][0].lower_bound_
