"""The device line commands print: which jax backend, which devices, which layout."""

from __future__ import annotations

import jax
import pytest

from proxy_tasks import default_layout, device_info, device_summary


def test_the_summary_names_the_backend_and_the_default_layout():
    line = device_summary(in_process=True)
    assert f"on {jax.default_backend()}" in line
    assert f"layout {default_layout()} (the default)" in line
    other = "vmap" if default_layout() == "runs" else "runs"
    assert f"layout {other} (chosen; the default here is {default_layout()})" in \
        device_summary(other, in_process=True)


def test_a_child_process_answers_the_same_without_touching_this_one():
    here, child = device_info(in_process=True), device_info(in_process=False)
    for key in ("backend", "devices", "device_kind", "default_layout", "jax"):
        assert child[key] == here[key]


def test_the_local_pool_plans_one_single_threaded_worker_per_core_on_a_cpu():
    from evosearch.backends.local import SINGLE_THREAD_ENV, available_cpus, worker_plan
    from proxy_tasks.device import accelerator_installed, local_device_info

    if accelerator_installed() and local_device_info()["backend"] != "cpu":
        pytest.skip("this machine has an accelerator")
    n, env, device = worker_plan(0)
    assert (n, env, device) == (available_cpus(), SINGLE_THREAD_ENV, "cpu")
    assert env["JAX_PLATFORMS"] == "cpu"
