"""How the sweep's client talks to a Dask scheduler. A `tcp://` scheduler takes pickled tasks
from anyone who reaches its port and the client unpickles whatever comes back, so on a shared
network it runs other people's code. `tls://` with certificates from one CA (--tls_ca,
--tls_cert, --tls_key, or Dask's own `distributed.comm.tls` configuration) authenticates both
ends: Dask's TLS context requires a certificate from the peer and verifies it against the CA, so
a scheduler whose certificate does not verify is refused, and so is a client without one."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers.errors import ConfigError

log = logging.getLogger("mcu_deploy")
TLS_FLAGS = ("--tls_ca", "--tls_cert", "--tls_key")


@dataclass(frozen=True)
class TlsFiles:
    """The PEM files the client proves itself with and checks the scheduler against."""

    ca: Path
    cert: Path
    key: Path


def check_tls_flags(scheduler: str | None, ca: Path | None, cert: Path | None, key: Path | None) -> TlsFiles | None:
    """The three files, all given and readable, for a `tls://` scheduler; None when none is given.
    Raises ConfigError for a partial set, or certificates without a `tls://` scheduler."""
    given = [value for value in (ca, cert, key) if value is not None]
    if not given:
        return None
    if scheduler is None or not scheduler.startswith("tls://"):
        raise ConfigError(f"{', '.join(TLS_FLAGS)} are for a `tls://` scheduler",
                          "give --scheduler tls://HOST:PORT, or drop the certificate flags")
    if len(given) != 3:
        missing = [flag for flag, value in zip(TLS_FLAGS, (ca, cert, key)) if value is None]
        raise ConfigError(f"{' and '.join(missing)} missing: TLS needs the CA, this client's certificate and its key",
                          f"give all of {', '.join(TLS_FLAGS)}")
    for flag, path in zip(TLS_FLAGS, given):
        if not path.is_file():
            raise ConfigError(f"{flag} {path}: no such file", "give the PEM file's path")
    return TlsFiles(ca=given[0], cert=given[1], key=given[2])


def client_security(scheduler: str | None, tls: TlsFiles | None) -> Any:
    """The `distributed.security.Security` for a client of `scheduler`: from the files, else for a
    `tls://` scheduler from Dask's configuration (which must name a CA and a certificate); None
    for a local cluster or a `tcp://` scheduler (warned about: it is unauthenticated)."""
    from distributed.security import Security

    if tls is not None:
        return Security(tls_ca_file=str(tls.ca), tls_client_cert=str(tls.cert), tls_client_key=str(tls.key),
                        require_encryption=True)
    if scheduler is None:
        return None
    if scheduler.startswith("tls://"):
        configured = Security(require_encryption=True)  # reads distributed.comm.tls.* from Dask's configuration
        if not (configured.tls_ca_file and configured.tls_client_cert):
            raise ConfigError(f"--scheduler {scheduler} needs certificates",
                              f"give {', '.join(TLS_FLAGS)}, or set distributed.comm.tls.ca-file and "
                              "distributed.comm.tls.client.cert (and .key) in Dask's configuration")
        return configured
    log.warning("sweep: the scheduler %s is unauthenticated: anyone who can reach it can run code on its workers "
                "and on this machine; use tls:// with certificates on a shared network (README, the sweep)", scheduler)
    return None
