"""Black-box detectors: any command that reads a video file and a site configuration and writes alerts.

A vendor's system needs no Python: the experiment runs its command once per camera, with
placeholders filled in (see :data:`eval.experiment.PLACEHOLDERS`)::

    command: ["acme-detect", "--video", "{video}", "--site", "{site}", "--out", "{alerts}"]

and reads the alerts file it wrote (JSON Lines, or CSV with a column mapping). Whatever the
command does (crash, hang, write garbage, write alerts of another camera) becomes a
:class:`BlackBoxError` with one clear message for that run's record; it cannot touch the
other runs: it writes into a scratch folder of its own and runs in its own process group,
which is killed whole at the timeout.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from detectors.events import Alert, EventType
from eval.alert_readers import AlertFileError, AlertFormat, check_cameras, read_alerts_file

#: lines of the command's stderr kept in an error message
STDERR_TAIL_LINES = 5


class BlackBoxError(RuntimeError):
    """A black-box command that failed; the message says how (exit status, timeout, bad output)."""


@dataclass(frozen=True)
class BlackBoxRun:
    """What one invocation produced."""

    alerts: list[Alert]
    wall_s: float  #: [s] wall time of the command
    cpu_s: float  #: [s] CPU time of the command and its children
    stderr_tail: str


def fill(command: Sequence[str], values: Mapping[str, str]) -> list[str]:
    """``command`` with ``{name}`` placeholders replaced by ``values`` (braces elsewhere stay)."""
    out = []
    for arg in command:
        for name, value in values.items():
            arg = arg.replace("{" + name + "}", str(value))
        out.append(arg)
    return out


def run_command(command: Sequence[str], *, video: str | os.PathLike, site: str | os.PathLike, camera: str,
                fps: float, workdir: str | os.PathLike, cwd: str | os.PathLike, timeout_s: float,
                alerts_format: AlertFormat | None = None, types: Sequence[EventType] | None = None,
                env: Mapping[str, str] | None = None, label: str = "command") -> BlackBoxRun:
    """Run a black box on one camera's ``video`` and read the alerts it wrote.

    Raises :class:`BlackBoxError` when the command cannot start, exits with a non-zero
    status, runs past ``timeout_s`` (its whole process group is killed), writes no alerts
    file, or writes one that does not parse, names another camera or an event type outside
    ``types``.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    alerts_path = workdir / ("alerts.csv" if alerts_format is not None and alerts_format.format == "csv"
                             else "alerts.jsonl")
    argv = fill(command, {"video": os.fspath(video), "site": os.fspath(site), "alerts": os.fspath(alerts_path),
                          "camera": camera, "fps": f"{fps:g}", "workdir": os.fspath(workdir),
                          "python": sys.executable})
    stderr_path = workdir / "stderr.txt"
    full_env = {**os.environ, **(env or {})}
    before = os.times()
    t0 = time.perf_counter()
    try:
        with open(stderr_path, "wb") as err, open(os.devnull, "rb") as devnull:
            proc = subprocess.Popen(argv, cwd=os.fspath(cwd), stdin=devnull, stdout=err, stderr=err,
                                    env=full_env, start_new_session=True)
            try:
                status = proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                raise BlackBoxError(f"{label} on camera {camera!r} ran past its timeout of {timeout_s:g} s and was "
                                    f"killed{_tail(stderr_path, ': ')}") from None
            except BaseException:  # Ctrl-C: leave no orphan behind
                _kill_group(proc)
                raise
    except FileNotFoundError:
        raise BlackBoxError(f"{label} on camera {camera!r}: cannot start {argv[0]!r} (no such program; "
                            f"run from {os.fspath(cwd)!r})") from None
    except PermissionError:
        raise BlackBoxError(f"{label} on camera {camera!r}: cannot start {argv[0]!r} (not executable)") from None
    wall = time.perf_counter() - t0
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    if status != 0:
        how = f"was killed by signal {-status}" if status < 0 else f"exited with status {status}"
        raise BlackBoxError(f"{label} on camera {camera!r} {how}{_tail(stderr_path, ': ')}")
    if not alerts_path.exists():
        raise BlackBoxError(f"{label} on camera {camera!r} exited with status 0 but wrote no alerts file "
                            f"(expected {alerts_path.name} at the path given as {{alerts}})")
    try:
        alerts = read_alerts_file(alerts_path, alerts_format, camera=camera, fps=fps)
        check_cameras(alerts, [camera], where=f"{label} on camera {camera!r}")
    except AlertFileError as exc:
        raise BlackBoxError(f"{label} on camera {camera!r} wrote malformed alerts: "
                            f"{str(exc).replace(os.fspath(alerts_path), alerts_path.name)}") from None
    if types is not None:
        allowed = {EventType.parse(t) for t in types}
        bad = next((a for a in alerts if a.type not in allowed), None)
        if bad is not None:
            raise BlackBoxError(f"{label} on camera {camera!r} raised a {bad.type.value} alert at t={bad.t:g} s; "
                                f"its declared types are {', '.join(sorted(t.value for t in allowed))}")
    return BlackBoxRun(alerts=alerts, wall_s=wall, cpu_s=cpu, stderr_tail=_tail(stderr_path))


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _tail(path: Path, prefix: str = "") -> str:
    try:
        lines = [ln.strip() for ln in path.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    if not lines:
        return ""
    return prefix + " | ".join(lines[-STDERR_TAIL_LINES:])[-600:]
