"""The wheel carries what an installed stationwatch needs.

Built from a copy of the sources (nothing is written in the repository) without build
isolation and without setuptools warnings, installed into a fresh virtual environment
(``--no-deps --no-index``: the dependencies come from this test environment through a
path file, nothing is downloaded), it lists its scenario library, loads the density CNN
weights from its own folder and answers ``stationwatch --version``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "sim", "detectors", "eval", "train", "scenarios")


def _run(cmd, cwd, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300, **kwargs)


@pytest.mark.slow
def test_the_wheel_installs_with_its_scenarios_and_weights(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, src / name)
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                  "-w", str(tmp_path / "dist"), str(src)], cwd=tmp_path)
    assert built.returncode == 0, built.stderr[-2000:]
    noise = [line for line in (built.stdout + built.stderr).splitlines()
             if "warning" in line.lower() and "byte-compiling is disabled" not in line]
    assert noise == [], "\n".join(noise)  # e.g. a package-data folder that would be ignored, a deprecated key
    wheel = next((tmp_path / "dist").glob("stationwatch-*.whl"))

    fresh = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(fresh)
    py = fresh / "bin" / "python"
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=tmp_path).stdout.strip())
    # the dependencies (numpy, torch, ...) of this environment, after the fresh one's own site-packages; a path
    # file's lines are plain folders: the editable install's finder in that folder is not activated
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = _run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index",
                      str(wheel)], cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr[-2000:]

    check = _run([str(py), "-c", (
        "import detectors, sim.scenario\n"
        "from detectors.density_cnn import WEIGHTS_FILE, DensityCNN\n"
        "from sim.scenario import list_scenarios\n"
        "DensityCNN()\n"
        "print(detectors.__file__)\n"
        "print(WEIGHTS_FILE)\n"
        "print(len(list_scenarios()))\n")], cwd=tmp_path)
    assert check.returncode == 0, check.stderr[-2000:]
    package, weights, n_scenarios = check.stdout.split()
    assert Path(package).is_relative_to(site) and Path(weights).is_relative_to(site)  # the installed copy
    assert int(n_scenarios) == len(list((ROOT / "scenarios").glob("[!_]*.yaml")))
    version = _run([str(fresh / "bin" / "stationwatch"), "--version"], cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("stationwatch 0.")
