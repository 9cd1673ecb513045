"""The Dask executor gives the same numbers as the local process pool (a distributed.LocalCluster)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from eval.executors import DaskExecutor, LocalExecutor
from eval.experiment import load_experiment
from eval.grid import run_experiment

GRID = {"name": "parity", "scenarios": ["concourse_overcrowding"], "seeds": [1, 2],
        "duration_s": 6, "detectors": [{"name": "builtin"}]}
#: tables whose every value must agree (timing and costs are wall-clock measurements, they do not)
SAME = ("alerts", "scores", "counts", "metrics", "matches", "ground_truth", "instance_tracks", "cameras")
KEYS = {"alerts": ["run_id", "camera", "t", "type"], "scores": ["run_id", "camera", "type", "frame"],
        "counts": ["run_id", "camera", "type"], "metrics": ["run_id", "type"],
        "matches": ["run_id", "camera", "instance_id"], "ground_truth": ["cell_id", "camera", "instance_id"],
        "instance_tracks": ["cell_id", "camera", "instance_id", "t"], "cameras": ["cell_id", "camera"]}


def sorted_table(folder, name):
    table = pq.read_table(folder / f"{name}.parquet")
    return table.take(pc.sort_indices(table, sort_keys=[(k, "ascending") for k in KEYS[name]]))


@pytest.mark.slow
def test_dask_local_cluster_and_local_pool_give_the_same_numbers(tmp_path):
    distributed = pytest.importorskip("distributed")
    exp = load_experiment(data=GRID)
    local = run_experiment(exp, tmp_path / "local", executor=LocalExecutor(2), progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster, distributed.Client(cluster) as client:
        ex = DaskExecutor(client)
        assert ex.describe()["workers"] == 2
        dask = run_experiment(exp, tmp_path / "dask", executor=ex, progress=False)
        pids = set(pq.read_table(tmp_path / "dask" / "runs.parquet").column("worker_pid").to_pylist())
    assert (local.ok, dask.ok) == (2, 2)
    assert len(pids) >= 1  # the cells ran in the cluster's worker processes
    for name in SAME:
        a, b = sorted_table(tmp_path / "local", name), sorted_table(tmp_path / "dask", name)
        assert a.column_names == b.column_names and a.num_rows == b.num_rows, name
        for col in a.column_names:  # exact equality, nan equal to nan
            if pa.types.is_floating(a.schema.field(col).type):
                np.testing.assert_array_equal(a.column(col).to_numpy(), b.column(col).to_numpy(), err_msg=f"{name}.{col}")
            else:
                assert a.column(col).to_pylist() == b.column(col).to_pylist(), f"{name}.{col}"
    scores = sorted_table(tmp_path / "local", "scores")
    types = set(scores.column("type").to_pylist())  # each detector the hall's site supports
    assert "excessive_density" in types and scores.num_rows == 2 * 60 * len(types)  # 2 seeds x 60 frames x types
    assert pc.max(scores.column("score")).as_py() > 0  # the density detector scored something to compare
