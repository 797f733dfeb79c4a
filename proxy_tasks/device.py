"""Which device jax trains on and which layout the engine uses there, as one line and as data.

Commands print :func:`device_summary` before they train, so that a user sees at once whether
their accelerator is in use (a jax without GPU support silently runs on the CPU), and result
manifests record :func:`device_info`.

No side effects on the caller: asking jax for its devices initialises its backend, which on a
GPU creates a context and reserves most of the GPU's memory. So unless this process has
initialised jax's backend already (it trains here anyway), the question is asked in a short
child process with the same environment (about a second), and the caller stays untouched: a
search's driver must leave the accelerator to its workers.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from typing import Any

_PROBE = (
    "import json, jax\n"
    "from proxy_tasks.training import default_layout\n"
    "d = jax.devices()\n"
    "print(json.dumps({'backend': jax.default_backend(), 'jax': jax.__version__,"
    " 'devices': len(d), 'device_kind': ', '.join(sorted({x.device_kind for x in d})),"
    " 'default_layout': default_layout()}))\n"
)


def _initialised_here() -> bool:
    if "jax" not in sys.modules:
        return False
    try:
        from jax._src import xla_bridge
    except ImportError:  # pragma: no cover - a jax without this module: ask a child
        return False
    check = getattr(xla_bridge, "backends_are_initialized", None)
    return bool(check and check())


def _probe_here() -> dict[str, Any]:
    import jax

    from proxy_tasks.training import default_layout

    d = jax.devices()
    return {"backend": jax.default_backend(), "jax": jax.__version__, "devices": len(d),
            "device_kind": ", ".join(sorted({x.device_kind for x in d})),
            "default_layout": default_layout()}


def _probe_child() -> dict[str, Any]:
    env = dict(os.environ, XLA_PYTHON_CLIENT_PREALLOCATE="false")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True,
                         text=True, timeout=300, check=False)
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"could not ask jax for its devices: {last}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def device_info(layout: str | None = None, in_process: bool | None = None) -> dict[str, Any]:
    """The jax backend and its devices, the layout (``layout``, else the engine's default),
    and the host. ``in_process``: ask jax in this process (``True``), in a child process
    (``False``), or here only if this process has initialised jax already (``None``)."""
    here = _initialised_here() if in_process is None else in_process
    info = _probe_here() if here else _probe_child()
    info["layout"] = layout or info["default_layout"]
    info.update(host=platform.node(), cpus=os.cpu_count() or 1, python=platform.python_version(),
                xla_flags=os.environ.get("XLA_FLAGS", ""))
    return info


def device_slug(info: dict[str, Any] | None = None) -> str:
    """A short file-name-safe name of the device: ``cpu``, ``nvidia-h200``, ``tpu-v5-lite``."""
    info = info or device_info()
    if info["backend"] == "cpu":
        return "cpu"
    kind = info["device_kind"].split(",")[0].strip().lower()
    slug = "".join(ch if ch.isalnum() else "-" for ch in kind).strip("-")
    while "--" in slug:
        slug = slug.replace("--", "-")
    return slug or info["backend"]


def device_summary(layout: str | None = None, in_process: bool | None = None,
                   info: dict[str, Any] | None = None) -> str:
    """One line, e.g. ``jax 0.4.30 on gpu (1 device: NVIDIA H200), layout vmap (the
    default)``; arguments as :func:`device_info` (or its result as ``info``)."""
    info = info or device_info(layout, in_process)
    plural = "s" if info["devices"] != 1 else ""
    cores = f", {info['cpus']} cores" if info["backend"] == "cpu" else ""
    chosen = info["layout"]
    how = "the default" if chosen == info["default_layout"] else \
        f"chosen; the default here is {info['default_layout']}"
    return (f"jax {info['jax']} on {info['backend']} ({info['devices']} device{plural}: "
            f"{info['device_kind']}{cores}), layout {chosen} ({how})")


ACCELERATOR_PACKAGES = ("jax_plugins", "jax_cuda12_plugin", "jax_cuda13_plugin", "libtpu")
"""Packages whose presence means this jax may see an accelerator (CUDA or ROCm plugins live in
the ``jax_plugins`` namespace; TPUs need ``libtpu``). Without any, jax runs on the CPU."""


def accelerator_installed() -> bool:
    """Whether this jax install could see an accelerator: a look at the installed packages,
    nothing started (so a CPU-only machine pays nothing for asking)."""
    import importlib.util

    return any(importlib.util.find_spec(name) is not None for name in ACCELERATOR_PACKAGES)


_LOCAL: dict[str, Any] = {}


def local_device_info() -> dict[str, Any]:
    """:func:`device_info` for this machine's evaluators, asked once per process, and without
    starting jax at all where no accelerator can be present (then it is the CPU, with the
    ``runs`` layout, measured best there)."""
    if not _LOCAL:
        if accelerator_installed():
            _LOCAL.update(device_info())
        else:
            from importlib.metadata import PackageNotFoundError, version

            try:
                jax_version = version("jax")
            except PackageNotFoundError:  # pragma: no cover - jax is a dependency
                jax_version = "?"
            _LOCAL.update(backend="cpu", jax=jax_version, devices=1, device_kind="cpu",
                          default_layout="runs", layout="runs", host=platform.node(),
                          cpus=os.cpu_count() or 1, python=platform.python_version(),
                          xla_flags=os.environ.get("XLA_FLAGS", ""))
    return dict(_LOCAL)
