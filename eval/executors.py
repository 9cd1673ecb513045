"""Where the cells of a grid run: this process, a local process pool, or a Dask cluster.

Every executor maps a picklable function over tasks and yields ``(task, result or
exception)`` as each one finishes, in completion order. Nothing here is home-made
distribution: the pool is :class:`concurrent.futures.ProcessPoolExecutor` (``spawn``
start method: no fork of a process that may hold threads), the cluster is Dask
distributed (``Client(address)``; a ``LocalCluster`` in the tests).
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterator, Sequence


class ExecutorError(RuntimeError):
    """An executor that cannot start (a scheduler out of reach, a bad address)."""


def _worker_init() -> None:
    """Pool workers leave Ctrl-C to the driver (no traceback from every worker) and end cleanly on SIGTERM
    (``finally`` blocks run: a black box's process group is killed, scratch folders removed)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit_on_term)


def _exit_on_term(signum, frame) -> None:
    raise SystemExit(128 + signum)


class LocalExecutor:
    """``jobs`` worker processes (1: in this process, which is what tests and notebooks want)."""

    def __init__(self, jobs: int | None = None) -> None:
        if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
            raise ExecutorError(f"jobs must be an integer >= 1; got {jobs!r}")
        self.jobs = jobs or os.cpu_count() or 1

    def describe(self) -> dict:
        return {"kind": "local", "jobs": self.jobs}

    def map_unordered(self, fn: Callable, tasks: Sequence[Any]) -> Iterator[tuple[Any, Any]]:
        if self.jobs == 1 or len(tasks) <= 1:
            for task in tasks:
                try:
                    yield task, fn(task)
                except KeyboardInterrupt:
                    raise
                except Exception as exc:
                    yield task, exc
            return
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        pool = ProcessPoolExecutor(max_workers=min(self.jobs, len(tasks)), mp_context=mp.get_context("spawn"),
                                   initializer=_worker_init)
        futures = {}
        finished = False
        try:
            futures = {pool.submit(fn, task): task for task in tasks}
            for fut in as_completed(futures):
                try:
                    yield futures[fut], fut.result()
                except Exception as exc:  # a worker that died takes its task with it; the others go on
                    yield futures[fut], exc
            finished = True
        finally:
            if not finished:  # interrupted: stop the cells in flight rather than wait for them
                for fut in futures:
                    fut.cancel()
                # concurrent.futures has no public way to stop running workers before Python 3.14
                for proc in list(getattr(pool, "_processes", {}).values()):
                    proc.terminate()
            pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor:
    """The workers of a Dask distributed scheduler at ``address`` (``tcp://HOST:PORT``) or of a ``Client``."""

    def __init__(self, address: str | Any, *, timeout_s: float = 20.0) -> None:
        try:
            from distributed import Client
        except ImportError:  # pragma: no cover - a dependency of the project
            raise ExecutorError("the Dask executor needs the package 'distributed' (pip install distributed)") from None
        if isinstance(address, Client):
            self.client, self._own = address, False
        else:
            if not isinstance(address, str) or "://" not in address:
                raise ExecutorError(f"--scheduler expects an address like tcp://HOST:8786; got {address!r}")
            _probe(address, timeout_s)
            try:
                self.client = Client(address, timeout=f"{timeout_s:g}s")
            except (OSError, TimeoutError) as exc:
                raise ExecutorError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
            self._own = True
        self.address = self.client.scheduler.address

    def describe(self) -> dict:
        info = self.client.scheduler_info()
        return {"kind": "dask", "scheduler": self.address, "workers": len(info.get("workers", {})),
                "threads": int(sum(w.get("nthreads", 0) for w in info.get("workers", {}).values()))}

    def map_unordered(self, fn: Callable, tasks: Sequence[Any]) -> Iterator[tuple[Any, Any]]:
        from distributed import as_completed

        if not tasks:
            return
        futures = self.client.map(fn, list(tasks), pure=False)
        task_of = {f.key: t for f, t in zip(futures, tasks)}
        try:
            for fut in as_completed(futures):
                try:
                    yield task_of[fut.key], fut.result()
                except Exception as exc:
                    yield task_of[fut.key], exc
        finally:
            self.client.cancel([f for f in futures if not f.done()])

    def close(self) -> None:
        if self._own:
            self.client.close()


def _probe(address: str, timeout_s: float) -> None:
    """Fail at once, in one line, when nothing listens at a tcp:// address (Dask would retry until its timeout)."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(address)
    if parts.scheme != "tcp":
        return  # tls://, inproc://, ...: left to Dask
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host or not port:
        raise ExecutorError(f"--scheduler expects an address like tcp://HOST:8786; got {address!r}")
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as exc:
        raise ExecutorError(f"cannot reach the Dask scheduler at {address}: {exc.strerror or exc}") from None


def make_executor(jobs: int | None = None, scheduler: str | None = None):
    """A :class:`DaskExecutor` when ``scheduler`` is given, else a :class:`LocalExecutor`."""
    if scheduler:
        return DaskExecutor(scheduler)
    return LocalExecutor(jobs)
