"""A multi-node Ray cluster on this machine (``ray.cluster_utils.Cluster``), run by a process of
its own that never imports jax.

Why: starting a Ray node forks (Ray's process launcher runs code between fork and exec), and a
fork in a process where jax has started its thread pools can deadlock; jax warns about it. The
test process has run jax by the time the Ray tests run (other test modules train programs), so
it must not start nodes itself. It joins this cluster as a driver (no fork) and asks this
process to add and remove nodes.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
from multiprocessing.connection import Connection
from typing import Any


def _serve(conn: Connection, head: dict[str, Any], workers: int, node: dict[str, Any]) -> None:
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args=head)
    for _ in range(workers):
        cluster.add_node(**node)
    cluster.wait_for_nodes()
    conn.send(cluster.address)
    while True:
        try:
            command, argument = conn.recv()
        except EOFError:
            command, argument = "shutdown", None
        if command == "shutdown":
            cluster.shutdown()
            return
        if command == "add_node":
            cluster.add_node(**node)
            cluster.wait_for_nodes()
            conn.send(None)
        elif command == "remove_node":
            victim = next(n for n in cluster.worker_nodes if n.node_id == argument)
            cluster.remove_node(victim)
            conn.send(None)


class ClusterProcess:
    """The cluster, from the test's side: its address, and nodes added or removed on request."""

    def __init__(self, head: dict[str, Any], workers: int, node: dict[str, Any]) -> None:
        ctx = mp.get_context("spawn")  # a fresh interpreter: no jax, no inherited threads
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(child, head, workers, node),
                                    name="ray-test-cluster")
        self._process.start()
        child.close()
        if not self._conn.poll(180):
            self.shutdown()
            raise RuntimeError("the test cluster did not start within 180 s")
        self.address: str = self._conn.recv()

    def _ask(self, command: str, argument: Any = None) -> None:
        self._conn.send((command, argument))
        self._conn.recv()

    def add_node(self) -> None:
        self._ask("add_node")

    def remove_node(self, node_id: str) -> None:
        self._ask("remove_node", node_id)

    def shutdown(self) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            self._conn.send(("shutdown", None))
        self._process.join(60)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(10)
