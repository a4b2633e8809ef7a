"""The sweep over TLS (issue 38, item 4), against a real `dask scheduler` and `dask worker` started
on 127.0.0.1 with certificates this test makes: a client whose CA did not sign the scheduler's
certificate is refused in one line (exit 2), so are a client without a certificate and one that
speaks plain TCP, and a sweep with the right CA completes. The local cluster talks in-process and
its HTTP servers listen on 127.0.0.1 only."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, require_tool, run_main
from tests.tls_certificates import Authority, make_authority

START_TIMEOUT_S = 120
GRID = {"pruning": [None], "clustering": [None], "ptq": ["int8"], "qat": False}


def _dask(*args: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # the worker unpickles helpers.sweep.engine.run_task
    with log.open("wb") as handle:
        return subprocess.Popen([sys.executable, "-m", "dask", *args], cwd=ROOT, env=env, stdout=handle,
                                stderr=subprocess.STDOUT)


def _tls_flags(authority: Authority) -> list[str]:
    return ["--tls-ca-file", str(authority.ca), "--tls-cert", str(authority.cert), "--tls-key", str(authority.key)]


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory) -> Iterator[tuple[str, Authority, Authority]]:
    """A TLS scheduler and one worker, both with the right CA's certificate: its address, the right
    authority and a wrong one (another CA, and a certificate it signed)."""
    require_tool("openssl")
    folder = tmp_path_factory.mktemp("tls")
    right, wrong = make_authority(folder, "right"), make_authority(folder, "wrong")
    scheduler_file = folder / "scheduler.json"
    scheduler = _dask("scheduler", "--protocol", "tls", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                      "--scheduler-file", str(scheduler_file), *_tls_flags(right), log=folder / "scheduler.log")
    worker = None
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not scheduler_file.is_file() and time.monotonic() < deadline and scheduler.poll() is None:
            time.sleep(0.2)
        assert scheduler_file.is_file(), (folder / "scheduler.log").read_text()[-1500:]
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tls://127.0.0.1:")
        worker = _dask("worker", address, "--nthreads", "1", "--no-dashboard", "--no-nanny", *_tls_flags(right),
                       log=folder / "worker.log")
        _wait_for_worker(address, right, deadline)
        yield address, right, wrong
    finally:
        for process in (worker, scheduler):
            if process is not None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()


def _wait_for_worker(address: str, authority: Authority, deadline: float) -> None:
    from distributed import Client
    from distributed.security import Security

    security = Security(tls_ca_file=str(authority.ca), tls_client_cert=str(authority.cert),
                        tls_client_key=str(authority.key), require_encryption=True)
    with Client(address, security=security, timeout="30s") as client:
        client.wait_for_workers(1, timeout=max(1.0, deadline - time.monotonic()))


def _grid(tmp_path: Path) -> Path:
    path = tmp_path / "grid.json"
    path.write_text(json.dumps(GRID))
    return path


def _flags(authority: Authority) -> list[str]:
    return ["--tls_ca", str(authority.ca), "--tls_cert", str(authority.cert), "--tls_key", str(authority.key)]


def test_a_scheduler_signed_by_another_ca_is_refused_in_one_line(tls_cluster, iris_dir, tmp_path):
    address, _, wrong = tls_cluster
    export = tmp_path / "sweep"
    result = run_main("--sweep", "--input_dir", str(iris_dir), "--sweep_grid", str(_grid(tmp_path)),
                      "--scheduler", address, *_flags(wrong), "--export_dir", str(export), timeout=300)
    assert result.returncode == 2, result.stderr[-1500:]
    assert "Traceback" not in result.stderr
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "cannot connect over TLS" in error[0] and "--tls_ca" in error[0], result.stderr[-800:]
    assert not (export / "config_combinations.ods").exists()


def test_clients_without_the_cas_certificate_are_refused(tls_cluster):
    """What another user on the machine could try: plain TCP, TLS without a certificate, TLS with a
    certificate from their own CA."""
    from distributed import Client
    from distributed.security import Security

    address, right, wrong = tls_cluster
    attempts = {
        "plain tcp": (address.replace("tls://", "tcp://"), None),
        "tls, own CA": (address, Security(tls_ca_file=str(wrong.ca), tls_client_cert=str(wrong.cert),
                                          tls_client_key=str(wrong.key), require_encryption=True)),
        # trusts the scheduler, but its certificate was signed by a CA the scheduler does not know
        "tls, foreign certificate": (address, Security(tls_ca_file=str(right.ca), tls_client_cert=str(wrong.cert),
                                                       tls_client_key=str(wrong.key), require_encryption=True)),
    }
    for name, (where, security) in attempts.items():
        with pytest.raises((OSError, TimeoutError)):
            client = Client(where, security=security, timeout="10s")
            # a connection the scheduler accepted would answer; refused ones raise before this
            client.scheduler_info()
            client.close()
            pytest.fail(f"{name}: the scheduler accepted the client")


def test_a_sweep_with_the_right_ca_completes(tls_cluster, iris_dir, tmp_path):
    address, right, _ = tls_cluster
    export = tmp_path / "sweep"
    result = run_main("--sweep", "--input_dir", str(iris_dir), "--sweep_grid", str(_grid(tmp_path)),
                      "--scheduler", address, *_flags(right), "--export_dir", str(export), timeout=900)
    assert result.returncode == 0, result.stderr[-1500:]
    assert "1/1 done, 0 running, 0 failed" in result.stderr
    assert (export / "config_combinations.ods").is_file()


def test_certificate_flags_are_checked_before_anything_runs(iris_dir, tmp_path):
    tcp, tls = ["--scheduler", "tcp://127.0.0.1:8786"], ["--scheduler", "tls://127.0.0.1:8786"]
    files = ["--tls_ca", "none.pem", "--tls_cert", "none.pem", "--tls_key", "k.pem"]
    cases = [
        ([*tcp, *files], "are for a `tls://` scheduler"),
        ([*tls, "--tls_ca", str(iris_dir / "specs.json")], "--tls_cert and --tls_key missing"),
        ([*tls, *files], "--tls_ca none.pem: no such file"),
    ]
    for flags, said in cases:
        result = run_main("--sweep", "--input_dir", str(iris_dir), *flags, "--export_dir", str(tmp_path / "x"),
                          timeout=120)
        assert result.returncode == 2 and said in result.stderr, (flags, result.stderr[-600:])


def test_the_local_cluster_listens_on_127_0_0_1_only():
    from helpers.sweep.engine import _connect

    before = _listening()
    client, cluster = _connect(2, None)
    try:
        addresses = [cluster.scheduler_address, *(w.address for w in cluster.workers.values())]
        assert addresses and all(address.startswith("inproc://") for address in addresses), addresses
        opened = _listening() - before  # the HTTP servers of the scheduler and each worker
        assert opened and {host for host, _ in opened} == {"127.0.0.1"}, opened
    finally:
        client.close()
        cluster.close()


def _listening() -> set[tuple[str, int]]:
    import psutil

    return {(c.laddr.ip, c.laddr.port) for c in psutil.Process().net_connections(kind="inet") if c.status == "LISTEN"}
