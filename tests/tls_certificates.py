"""Certificates for the sweep's TLS tests, made with the `openssl` command: a CA, and a
certificate it signs for the scheduler, its workers and the client alike (Dask's TLS checks the
chain, not the host name)."""
from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

DAYS = "2"


@dataclass(frozen=True)
class Authority:
    """A CA's certificate, and a certificate and key it signed."""

    ca: Path
    cert: Path
    key: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_authority(folder: Path, name: str) -> Authority:
    """A new CA `name` in `folder` and one certificate it signed (EC keys: fast to make)."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, request, cert = (f"{name}-ca.key", f"{name}-ca.pem", f"{name}.key", f"{name}.csr", f"{name}.pem")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
             ca_key, "-out", ca, "-days", DAYS, "-subj", f"/CN={name} test CA", cwd=folder)
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
             "-out", request, "-subj", f"/CN={name} dask", cwd=folder)
    _openssl("x509", "-req", "-in", request, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert,
             "-days", DAYS, cwd=folder)
    return Authority(ca=folder / ca, cert=folder / cert, key=folder / key)
