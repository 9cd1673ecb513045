"""Interrupted grids resume without recomputing what finished; the command line's hard edges."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from eval.cli import main
from eval.executors import LocalExecutor
from eval.experiment import load_experiment
from eval.grid import run_experiment

SMALL = {"name": "small", "scenarios": ["concourse_quiet"], "seeds": [1, 2, 3], "duration_s": 3,
         "detectors": [{"name": "builtin"}]}


class InterruptAfter(LocalExecutor):
    """Ctrl-C after ``n`` cells have come back."""

    def __init__(self, n: int) -> None:
        super().__init__(1)
        self.n = n

    def map_unordered(self, fn, tasks):
        for k, item in enumerate(super().map_unordered(fn, tasks)):
            if k == self.n:
                raise KeyboardInterrupt
            yield item


def leftovers(folder: Path) -> list[str]:
    """Temporary files of the atomic writer (hidden, named after their target)."""
    return [os.fspath(p) for p in folder.rglob(".*") if p.is_file()]


def test_an_interrupted_grid_resumes_and_recomputes_nothing_finished(tmp_path):
    exp = load_experiment(data=SMALL)
    out = tmp_path / "res"
    with pytest.raises(KeyboardInterrupt):
        run_experiment(exp, out, executor=InterruptAfter(2), progress=False)
    done = sorted(p.parent.name for p in (out / "runs").glob("*/run.json"))
    assert len(done) == 2  # two cells came back before Ctrl-C
    assert leftovers(out) == []
    first = {name: (out / "runs" / name / "scores.parquet").read_bytes() for name in done}
    again = run_experiment(exp, out, jobs=1, progress=False)
    assert (again.reused, again.computed, again.ok) == (2, 1, 3)
    for name, data in first.items():  # finished runs were not rewritten
        assert (out / "runs" / name / "scores.parquet").read_bytes() == data
    runs = pq.read_table(out / "runs.parquet").to_pylist()
    assert [r["status"] for r in runs] == ["ok"] * 3


def test_a_new_detector_reuses_the_finished_ones(tmp_path):
    out = tmp_path / "res"
    run_experiment(load_experiment(data={**SMALL, "seeds": [1]}), out, jobs=1, progress=False)
    more = load_experiment(data={**SMALL, "seeds": [1], "detectors": [{"name": "builtin"},
                                                                      {"name": "density_only",
                                                                       "detectors": ["excessive_density"]}]})
    res = run_experiment(more, out, jobs=1, progress=False)
    assert (res.reused, res.computed) == (1, 1)
    assert res.cpu_s > 0 and res.camera_s == 3.0


def test_a_failing_simulation_fails_every_run_of_its_cell_and_the_grid_goes_on(tmp_path, monkeypatch):
    import sim.source

    real = sim.source.SyntheticFeed

    def feed(scenario, *args, **kwargs):
        if kwargs.get("seed") == 2:
            raise RuntimeError("renderer out of memory")
        return real(scenario, *args, **kwargs)

    monkeypatch.setattr(sim.source, "SyntheticFeed", feed)
    res = run_experiment(load_experiment(data=SMALL), tmp_path / "res", jobs=1, progress=False)
    assert (res.ok, res.failed) == (2, 1)
    (run_id, error), = res.failures
    assert run_id == "concourse_quiet__base__s2__builtin"
    assert error == "cell failed: RuntimeError: renderer out of memory"
    cell = json.loads((tmp_path / "res" / "cells" / "concourse_quiet__base__s2" / "cell.json").read_text())
    assert cell["status"] == "failed" and "renderer out of memory" in cell["traceback"]
    # the failure is finished (its error is the result) until --retry-failed
    monkeypatch.setattr(sim.source, "SyntheticFeed", real)
    assert run_experiment(load_experiment(data=SMALL), tmp_path / "res", jobs=1, progress=False).computed == 0
    retried = run_experiment(load_experiment(data=SMALL), tmp_path / "res", jobs=1, progress=False, retry_failed=True)
    assert (retried.computed, retried.ok, retried.failed) == (1, 3, 0)


def test_a_folder_that_is_not_a_results_folder_is_refused(tmp_path, capsys):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(SMALL))
    assert main(["experiment", str(tmp_path / "exp.yaml"), "--out", str(tmp_path / "mine")]) == 2
    err = capsys.readouterr().err
    assert "exists and is not a results folder (no experiment.json); choose another --out" in err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize("text, message", [
    ("name: x\nscenarios: [platform_intrusion]\ndetectors: [{name: b, comand: [x]}]\n",
     "experiment 'x': detectors[0].comand: unknown key"),
    ("name: x\nscenarios: [nope]\ndetectors: [{name: b}]\n", "scenarios[0]: no scenario named 'nope'"),
    ("name: [x\n", "not YAML at line 2"),
])
def test_bad_experiment_files_on_the_command_line(tmp_path, capsys, text, message):
    (tmp_path / "exp.yaml").write_text(text)
    assert main(["experiment", str(tmp_path / "exp.yaml"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # validated before any folder is made


def test_a_scheduler_out_of_reach_is_one_line(tmp_path, capsys):
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(SMALL))
    assert main(["experiment", str(tmp_path / "exp.yaml"), "--out", str(tmp_path / "out"), "--scheduler",
                 "tcp://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in err and err.count("\n") == 1


def test_dry_run_lists_what_is_left(tmp_path, capsys):
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(SMALL))
    assert main(["experiment", str(tmp_path / "exp.yaml"), "--out", str(tmp_path / "out"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "3 cell(s) x 1 detector(s) = 3 run(s); 0 finished" in out and "concourse_quiet__base__s3: builtin" in out
    assert not (tmp_path / "out").exists()


def test_ctrl_c_in_the_command_is_one_line_and_status_130(tmp_path, capsys, monkeypatch):
    import eval.grid

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(eval.grid, "run_experiment", interrupted)
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(SMALL))
    assert main(["experiment", str(tmp_path / "exp.yaml"), "--out", str(tmp_path / "out")]) == 130
    err = capsys.readouterr().err
    assert err.startswith("stationwatch experiment: interrupted; finished runs are kept in") and err.count("\n") == 1


@pytest.mark.slow
def test_sigint_to_a_pool_of_workers(tmp_path):
    """A real Ctrl-C while two worker processes run: one line, status 130, nothing half-written, then resume."""
    spec = {**SMALL, "seeds": list(range(1, 7)), "duration_s": 3}
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(spec))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "eval.cli", "experiment", str(tmp_path / "exp.yaml"), "--out", str(out), "--jobs", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not list(out.glob("runs/*/run.json")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the grid finished before the signal")  # a very fast machine
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and stderr.strip().count("\n") == 0, stderr
    assert "interrupted; finished runs are kept" in stderr
    assert leftovers(out) == []
    finished = len(list(out.glob("runs/*/run.json")))
    res = run_experiment(load_experiment(tmp_path / "exp.yaml"), out, jobs=1, progress=False)
    assert (res.reused, res.computed, res.ok) == (finished, 6 - finished, 6)


def test_the_command_prints_the_table_and_the_throughput(tmp_path, capsys):
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump({**SMALL, "seeds": [1]}))
    assert main(["experiment", str(tmp_path / "exp.yaml"), "--out", str(tmp_path / "out"), "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "builtin" in out and "excessive_density" in out
    assert "1 of 1 run(s) ok, 0 failed, 0 reused, 1 computed" in out and "camera-hours per core-hour" in out
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["last_invocation"]["camera_s"] == 3.0 and manifest["executor"] == {"kind": "local", "jobs": 1}


def test_a_read_only_results_folder_is_one_line(tmp_path, capsys, monkeypatch):
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump({**SMALL, "seeds": [1]}))
    real_mkdir = Path.mkdir

    def read_only(self, *args, **kwargs):  # the tests run as root, who may write anywhere: refuse by hand
        if "ro" in self.parts:
            raise PermissionError(13, "Permission denied", os.fspath(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", read_only)
    assert main(["experiment", str(tmp_path / "exp.yaml"), "--out", str(tmp_path / "ro" / "out"), "--jobs",
                 "1"]) == 2
    err = capsys.readouterr().err
    assert "cannot write the results folder" in err and "Permission denied" in err and err.count("\n") == 1


def test_actev_export_of_a_folder_that_is_not_a_results_folder(tmp_path, capsys):
    assert main(["export", str(tmp_path), "--actev"]) == 2
    err = capsys.readouterr().err
    assert "is not an experiment results folder (no experiment.json and runs.parquet" in err and err.count("\n") == 1
