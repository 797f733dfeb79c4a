"""Joining a Ray cluster, or starting Ray on this machine, with errors a user can act on.

Why a module of its own: ``ray.init`` given an address where no cluster listens does not fail,
it retries for minutes while its C++ core prints a warning every few seconds. A search that
was pointed at the wrong machine should say so at once, naming the address and the command that
starts a head node there. So an address is resolved and probed with a plain TCP connection
before Ray sees it.

Addresses (``executor.address``, ``--address``):

- ``""`` (or ``"local"``): start a private Ray on this machine with one CPU per worker; it stops
  with the search. It never attaches to a cluster that happens to run here.
- ``"auto"``: the cluster started on this machine with ``ray start`` (or ``RAY_ADDRESS``).
- ``HOST:PORT``: the head node there (``ray start --head`` prints it; the port defaults to 6379).
"""

from __future__ import annotations

import logging
import os
import socket

from evosearch.backends.base import ExecutorError

PROBE_TIMEOUT = 5.0
"""Seconds to wait for a TCP connection to the head node before giving up."""

LOCAL_OBJECT_STORE = 128 * 2**20
"""Bytes of shared memory for a private Ray: batches are program texts and a few floats, so the
default (30 % of RAM) would only take memory from the evaluators."""


def start_head_hint(port: int | str = 6379) -> str:
    return (
        f"start one with `ray start --head --port={port}` on the head machine (in the "
        "environment where evosearch is installed), join the others with "
        f"`ray start --address=HEAD_IP:{port}`, or leave out --address to run Ray on this "
        "machine only (see docs/cluster.md)"
    )


def split_address(address: str) -> tuple[str, int]:
    """``"HOST:PORT"`` (optionally ``ray://HOST:PORT``) -> (host, port)."""
    text = address.strip()
    if "://" in text:
        text = text.split("://", 1)[1]
    host, sep, port_text = text.rpartition(":")
    if not sep:
        raise ExecutorError(
            f"ray address {address!r}: expected HOST:PORT (e.g. 10.0.0.5:6379) or 'auto'"
        )
    host = host.strip("[]")  # [IPv6]:port
    try:
        port = int(port_text)
    except ValueError:
        port = -1
    if not host or not 0 < port < 65536:
        raise ExecutorError(
            f"ray address {address!r}: expected HOST:PORT (e.g. 10.0.0.5:6379) or 'auto'"
        )
    return host, port


def probe(address: str, timeout: float = PROBE_TIMEOUT) -> None:
    """Raise :class:`ExecutorError` unless something accepts TCP connections at ``address``."""
    host, port = split_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return
    except socket.gaierror as e:
        reason = f"unknown host: {e.strerror or e}"
    except ConnectionRefusedError:
        reason = "connection refused: nothing listens on that port"
    except TimeoutError:
        reason = f"no answer within {timeout:.0f} s: a firewall, or the wrong host"
    except OSError as e:
        reason = e.strerror or str(e)
    raise ExecutorError(
        f"cannot reach a Ray cluster at {host}:{port} ({reason}); {start_head_hint(port)}"
    )


def resolve(address: str) -> str:
    """The HOST:PORT that ``address`` stands for; ``"auto"`` is looked up as Ray does."""
    if address.strip() != "auto":
        split_address(address)  # a clear error for a malformed address
        return address.strip()
    env = os.environ.get("RAY_ADDRESS", "").strip()
    if env and env != "auto":
        return env
    try:
        from ray._private.services import canonicalize_bootstrap_address
    except ImportError:  # a Ray without this helper: let ray.init resolve "auto" itself
        return "auto"
    try:
        found = canonicalize_bootstrap_address("auto")
    except ConnectionError:
        found = None
    if not found:
        raise ExecutorError(
            "--address auto: no Ray cluster runs on this machine (no `ray start` here and "
            f"RAY_ADDRESS is unset); {start_head_hint()}"
        )
    return found


def connect(address: str, num_cpus: int) -> bool:
    """Make this process a Ray driver. Returns whether it connected now (and so should
    disconnect when done): False when Ray was already initialised by the caller (a test, a
    notebook), whose cluster is then used as it is."""
    import ray

    if ray.is_initialized():
        return False
    quiet = {"log_to_driver": True, "logging_level": logging.WARNING}  # worker errors stay visible
    if address.strip() in ("", "local"):
        try:
            ray.init(address="local", num_cpus=num_cpus or os.cpu_count() or 1,
                     include_dashboard=False, object_store_memory=LOCAL_OBJECT_STORE, **quiet)
        except Exception as e:  # noqa: BLE001 - any failure to start is the same to a user
            raise ExecutorError(f"cannot start Ray on this machine: {e}") from None
        return True
    target = resolve(address)
    if target != "auto":
        probe(target)
    # "auto" goes to Ray as "auto": for a cluster found on this machine Ray then authenticates
    # with the local token, as `ray start` does; an explicit address follows RAY_AUTH_MODE only.
    joined = "auto" if address.strip() == "auto" else target
    try:
        ray.init(address=joined, **quiet)
    except Exception as e:  # noqa: BLE001 - version mismatch, refused handshake, ...
        raise ExecutorError(
            f"cannot join the Ray cluster at {target}: {e}. Every machine needs the same "
            "Python, Ray and evosearch versions; if the cluster uses token authentication "
            "(`ray start` printed 'Token authentication is enabled'), set RAY_AUTH_MODE=token "
            "here and give this machine the head's token (~/.ray/auth_token or "
            "RAY_AUTH_TOKEN); see docs/cluster.md"
        ) from None
    return True
