"""The single-threaded evaluator helper and the lazy package import it relies on."""

from __future__ import annotations

import subprocess
import sys

import pytest

from proxy_tasks.threads import configure_single_thread, single_thread_env


def test_single_thread_env_replaces_only_the_thread_flags():
    env = single_thread_env({"XLA_FLAGS": "--xla_cpu_multi_thread_eigen=true --other=1",
                             "KEEP": "x"})
    flags = env["XLA_FLAGS"].split()
    assert "--xla_cpu_multi_thread_eigen=false" in flags
    assert "intra_op_parallelism_threads=1" in flags
    assert "--other=1" in flags and "--xla_cpu_multi_thread_eigen=true" not in flags
    assert env["KEEP"] == "x"


def test_configuring_after_jax_is_imported_is_an_error():
    import jax  # noqa: F401 - the test process has jax

    with pytest.raises(RuntimeError, match="before jax is imported"):
        configure_single_thread()


def test_importing_the_package_does_not_import_jax():
    code = ("import sys, proxy_tasks; proxy_tasks.configure_single_thread(); "
            "import os; assert 'jax' not in sys.modules; print(os.environ['XLA_FLAGS'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert "intra_op_parallelism_threads=1" in out.stdout
