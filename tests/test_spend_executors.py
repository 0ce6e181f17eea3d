"""Spend that holds everywhere: one ledger in the driver for process pools and a Dask cluster.

The issue's attack: ``generate_many(..., executor=...)`` with a pickling executor used to unpickle a
fresh client in every task (``spent`` $0.00 each), so a $0.20 limit let 20 of 20 $0.04 requests
through ($0.80 billed; Dask 16 of 16, $0.64). Each test compares the driver's ledger with the
local server's billing records.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import jupyter_imagegen as ig
from jupyter_imagegen.server import LocalServer

KEY = "sk-or-v1-test-key-0123456789"
POSTER = "offline/poster"  # $0.04 per image on the Image API


def posts(server: LocalServer) -> list[Any]:
    return [r for r in server.requests if r.method == "POST"]


@pytest.fixture(scope="module")
def pool() -> Iterator[cf.ProcessPoolExecutor]:
    # spawn: a child that starts clean, as on macOS and Windows (and Python 3.14's default)
    with cf.ProcessPoolExecutor(4, mp_context=multiprocessing.get_context("spawn")) as executor:
        yield executor


def assert_one_ledger(client: ig.Client, server: LocalServer, batch: ig.BatchResult,
                      limit: float) -> None:
    """No more billed than the limit, the ledger equal to the bill, every refusal unsent."""
    assert server.total_cost <= limit + 1e-9
    assert client.spent == pytest.approx(server.total_cost) and client.pending == 0
    assert len(posts(server)) == len(server.generations) == len(batch.results)
    assert all(isinstance(item.error, ig.SpendLimitError) for item in batch.errors)


def test_a_limit_holds_across_a_process_pool(pool: cf.ProcessPoolExecutor,
                                             tmp_path: Path) -> None:
    with LocalServer() as server, \
            ig.Client(base_url=server.base_url, api_key=KEY, spend_limit=0.20,
                      store=tmp_path) as c:
        batch = c.generate_many([f"poster {i}" for i in range(20)], POSTER, executor=pool,
                                concurrency=4, progress=False)
        assert len(batch.results) == 5 and len(batch.errors) == 15
        assert_one_ledger(c, server, batch, 0.20)
        # the results and the store live in the driver, as without an executor
        assert all(r.image.size == (1024, 1024) and r._client is c for r in batch.results)
        assert len(list(ig.ImageStore(tmp_path))) == 5


def test_unfinished_calls_in_a_pool_keep_their_reservation(pool: cf.ProcessPoolExecutor) -> None:
    # Every worker's call times out; the service still finishes and bills each one.
    with LocalServer(latency=0.6) as server, \
            ig.Client(base_url=server.base_url, api_key=KEY, spend_limit=0.20,
                      timeout=(5, 0.2), max_retries=0) as c:
        batch = c.generate_many([f"poster {i}" for i in range(12)], POSTER, executor=pool,
                                concurrency=4, progress=False)
        timeouts = [i for i in batch.errors if isinstance(i.error, ig.RequestTimeoutError)]
        assert len(timeouts) == 5 and all(i.error.unfinished for i in timeouts)
        assert c.spent == pytest.approx(0.20) and c.pending == pytest.approx(0.20)
        assert len(posts(server)) == 5


def test_a_limit_holds_across_a_dask_cluster(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    with LocalServer() as server, \
            distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=True,
                                     host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as dask_client, \
            ig.Client(base_url=server.base_url, api_key=KEY, spend_limit=0.20) as c:
        # a Dask client directly, and its executor (the README's recipe), share one ledger
        first = c.generate_many([f"poster {i}" for i in range(8)], POSTER, executor=dask_client,
                                concurrency=4, progress=False)
        second = c.generate_many([f"more {i}" for i in range(8)], POSTER,
                                 executor=dask_client.get_executor(), concurrency=4,
                                 progress=False)
        both = ig.BatchResult(first.items + second.items)
        assert len(both.results) == 5
        assert_one_ledger(c, server, both, 0.20)


def test_identical_prompts_on_dask_are_two_generations() -> None:
    distributed = pytest.importorskip("distributed")
    with LocalServer() as server, \
            distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                                     host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as dask_client, \
            ig.Client(base_url=server.base_url, api_key=KEY, spend_limit=1.0) as c:
        # Dask would run identical tasks once (one bill, two results counted) unless told not to
        for executor in (dask_client, dask_client.get_executor()):
            batch = c.generate_many(["the same"] * 2, "offline/sketch", executor=executor,
                                    concurrency=2, progress=False)
            assert len(batch.results) == 2
        assert len(server.generations) == 4 and c.spent == pytest.approx(server.total_cost)


def test_a_copied_client_refuses_to_spend_under_a_limit(server: LocalServer) -> None:
    with ig.Client(base_url=server.base_url, api_key=KEY, spend_limit=0.20) as c:
        copy = pickle.loads(pickle.dumps(c))  # what a process pool or Dask makes of it
        with pytest.raises(ig.SpendLimitError, match=r"generate_many\(\.\.\., executor=\.\.\.\)"):
            copy.generate("x", POSTER)
        assert not posts(server)
        copy.spend_limit = 0.10  # a budget of its own, on purpose
        copy.generate("x", POSTER)
        assert copy.spent == pytest.approx(server.total_cost) and c.spent == 0
    with ig.Client(base_url=server.base_url, api_key=KEY) as free:
        pickle.loads(pickle.dumps(free)).generate("y", POSTER)  # no limit: nothing to refuse


def test_an_executor_without_submit_is_refused(server: LocalServer) -> None:
    with ig.Client(base_url=server.base_url, api_key=KEY) as c, \
            pytest.raises(ig.InvalidInputError, match="submit"):
        c.generate_many(["a"], POSTER, executor=object(), progress=False)  # type: ignore[arg-type]
