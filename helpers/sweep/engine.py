"""The sweep's engine: every combination is one Dask task that runs `main.py` in its own process
(a TensorFlow crash or leak stays in that process). With no --scheduler a LocalCluster of --jobs
workers runs them; with one, the same tasks go to an existing cluster. Results stream back as
they finish, each saved at once, so an interrupted sweep loses only what was running."""
from __future__ import annotations

import logging
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers.core.results import RunReport
from helpers.errors import ConfigError
from helpers.sweep.grid import Combination
from helpers.sweep.security import TlsFiles, client_security
from helpers.sweep.store import ResultStore

log = logging.getLogger("mcu_deploy")

COMBINATION_TIMEOUT_S = 3600
LOOPBACK = "127.0.0.1:0"  # what the local cluster's HTTP servers bind to


@dataclass(frozen=True)
class Task:
    """One combination of one model: what a worker needs to run it."""

    model: str          # the model's name (its sheet in the spreadsheet)
    model_dir: str      # as the workers see it: a shared path on a remote cluster
    combination: Combination
    key: str            # its result file's name in the store
    extra_flags: tuple[str, ...] = ()   # flags every combination shares (--max_drop, --tflm_dir, ...)


def run_task(task: Task) -> dict[str, Any]:
    """Run one combination in a fresh `main.py` process on whichever machine runs the task; its row."""
    from helpers.core.paths import MAIN_SCRIPT  # the worker's own checkout of the project

    start = time.perf_counter()
    row = combination_columns(task)
    with tempfile.TemporaryDirectory(prefix="mcu-deploy-sweep-") as tmp:
        export = Path(tmp) / "export"
        command = [sys.executable, str(MAIN_SCRIPT), "--input_dir", task.model_dir, "--export_dir", str(export),
                   "--quiet", *task.extra_flags, *task.combination.flags()]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=COMBINATION_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            row["error"] = f"did not finish within {COMBINATION_TIMEOUT_S} s"
            row["seconds"] = round(time.perf_counter() - start, 1)
            return row
        report_path = export / "report.json"
        if result.returncode in (0, 3) and report_path.is_file():  # 3: written, outside tolerance or budget
            row.update(final_row(RunReport.from_json(report_path.read_text(encoding="utf-8"))))
        else:
            row["error"] = failure_reason(result.returncode, result.stderr)
    row["seconds"] = round(time.perf_counter() - start, 1)
    return row


def combination_columns(task: Task) -> dict[str, Any]:
    """The spreadsheet columns that name a task's model and combination."""
    combination = task.combination
    return {"model": task.model, "pruning": combination.sparsity is not None, "sparsity_target": combination.sparsity,
            "clustering": combination.clusters is not None, "clusters": combination.clusters,
            "mode": combination.mode, "quantization": combination.quantization}


def failure_reason(returncode: int, stderr: str) -> str:
    """The run's own one-line error, or how its process died."""
    lines = [line for line in stderr.strip().splitlines() if line.startswith("error:")]
    if lines:
        return lines[-1][len("error: "):]
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"the run crashed ({name})"
    return f"exit code {returncode}"


def final_row(report: RunReport) -> dict[str, Any]:
    """The spreadsheet's columns from the last variant of a combination's report.json."""
    final = report.tflite_variants[-1]
    row: dict[str, Any] = {"variant": final.name}
    if final.error:
        row["error"] = final.error
        return row
    firmware = final.firmware
    metric = report.primary_metric
    row.update(final.metrics)
    row[f"delta_{metric}"] = final.delta.get(metric)
    targets = firmware.cortex_m_results()
    flash = [r.flash_bytes_without_self_test for r in targets if r.flash_bytes_without_self_test]
    cycles = [r.instructions_per_inference for r in targets if r.instructions_per_inference]
    row.update(size_bytes=final.size_bytes, compressed_size_bytes=final.compressed_size_bytes,
               sparsity=final.weights.sparsity if final.weights else None,
               tflm_runnable=firmware.tflm_runnable, tensor_arena_bytes=firmware.tensor_arena_bytes,
               target_flash_bytes=max(flash) if flash else None,
               target_instructions=max(cycles) if cycles else None,
               within_tolerance=final.within_tolerance)
    return row


@dataclass
class Progress:
    """Combinations done, running, failed, and an estimate of the time left."""

    total: int
    done: int = 0
    failed: int = 0
    started: float = 0.0

    def line(self, running: int) -> str:
        elapsed = time.monotonic() - self.started
        width = 20
        filled = width * self.done // self.total if self.total else width
        left = ""
        if self.done:
            remaining = (self.total - self.done) * elapsed / self.done
            left = f", about {remaining / 60:.1f} min left" if remaining >= 60 else f", about {remaining:.0f} s left"
        return (f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} done, {running} running, "
                f"{self.failed} failed{left}")


def _connect(jobs: int, scheduler: str | None, tls: TlsFiles | None = None) -> tuple[Any, Any]:
    """A client on the given scheduler (over TLS with `tls`, or Dask's TLS configuration), or on a
    local cluster of `jobs` threads (returned to close)."""
    from dask.distributed import Client, LocalCluster

    security = client_security(scheduler, tls)
    cluster = None
    if scheduler is None:
        # Threads are enough: each task waits on its own main.py process. inproc://: the scheduler and
        # its workers talk inside this process, on no port. Their HTTP servers (health and metrics
        # routes) listen on every interface by default: on 127.0.0.1 here, on a free port.
        cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=False, protocol="inproc://",
                               dashboard_address=LOOPBACK, worker_dashboard_address=LOOPBACK)
    try:
        return Client(cluster if cluster is not None else scheduler, timeout="30s", security=security), cluster
    except (OSError, TimeoutError, ValueError) as error:
        if cluster is not None:
            cluster.close()
        said = " ".join(str(error).split())
        if scheduler is not None and scheduler.startswith("tls://"):
            raise ConfigError(f"cannot connect over TLS to the Dask scheduler {scheduler} ({type(error).__name__}: "
                              f"{said[:160]})", "check that --tls_ca is the CA that signed the scheduler's "
                              "certificate and that it signed --tls_cert, and that the scheduler runs") from None
        raise ConfigError(f"cannot reach the Dask scheduler {scheduler or 'of the local cluster'} "
                          f"({type(error).__name__}: {said[:120]})",
                          "start one with `dask scheduler` and workers with `dask worker tcp://HOST:8786`, "
                          "or drop --scheduler to use a local cluster") from None


def _result_row(future: Any, task: Task, store: ResultStore, unsaved: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A finished task's row, kept in the store; a task its worker lost is a failed row not kept."""
    try:
        row = future.result()
        store.save(task.key, task.combination, row)
    except Exception as error:
        # The worker, not the combination, failed (lost, out of memory, cannot import the
        # project): a failed row now, not kept, so a rerun tries it again.
        said = " ".join(str(error).split())[:300]
        row = {**combination_columns(task), "error": f"the task failed on its worker: {type(error).__name__}: {said}"}
        unsaved[task.key] = row
    return row


def run_tasks(tasks: list[Task], store: ResultStore, jobs: int, scheduler: str | None,
              on_result: Callable[[Task, dict[str, Any]], None] | None = None,
              tls: TlsFiles | None = None) -> list[dict[str, Any]]:
    """Every task not already in the store, on the cluster; returns every task's row, in task order.

    Ctrl-C cancels what is running and re-raises: what finished is in the store already."""
    from dask.distributed import as_completed

    pending = [task for task in tasks if not store.has(task.key)]
    unsaved: dict[str, dict[str, Any]] = {}
    reused = len(tasks) - len(pending)
    if reused:
        log.info("sweep: %d of %d combinations already done (kept in %s), %d to run", reused, len(tasks),
                 store.folder, len(pending))
    if not pending:
        return [store.load(task.key) for task in tasks]
    client, cluster = _connect(jobs, scheduler, tls)
    futures: dict[Any, Task] = {}
    try:
        workers = len(client.scheduler_info().get("workers", {})) or jobs
        progress = Progress(total=len(pending), started=time.monotonic())
        futures = {client.submit(run_task, task, key=f"combination-{task.key}", pure=False): task
                   for task in pending}
        for future in as_completed(list(futures)):
            task = futures[future]
            row = _result_row(future, task, store, unsaved)
            progress.done += 1
            progress.failed += 1 if row.get("error") else 0
            running = min(workers, len(pending) - progress.done)
            log.info("%s  %s %s: %s", progress.line(running), task.model, task.combination.label(),
                     row.get("error") or _metric_text(row))
            if on_result is not None:
                on_result(task, row)
    except KeyboardInterrupt:
        for future in futures:
            future.cancel()
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return [unsaved[task.key] if task.key in unsaved else store.load(task.key) for task in tasks]


def _metric_text(row: dict[str, Any]) -> str:
    return ", ".join(f"{key} {row[key]:.4g}" for key in ("accuracy", "mae") if row.get(key) is not None) or "done"

