"""Checking an exported optimizer against the *target*, not only against the program.

An export is checked against :func:`programs.step` when ``evosearch export`` writes it; an
identified optimizer must also do what the target does. :func:`check_export` imports the module
the exporter generated and drives it, in float64, over the held-out streams with the target's
learning rate at every step (teacher-forced, as during the search), and compares its updates
with the target's step by step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from programs import Program
from proxy_tasks.identification.distance import step_errors
from proxy_tasks.identification.suite import EXACT, IdentificationSuite
from proxy_tasks.identification.targets import _split


def _optax_updates(module: Any, stream: Any) -> np.ndarray:
    import jax
    import jax.numpy as jnp

    with jax.enable_x64(True):
        lrs = jnp.asarray(stream.lr, jnp.float64)
        tx = module.optimizer(learning_rate=lambda count: lrs[count])
        params = [jnp.asarray(p) for p in _split(stream.w[0], stream.segments)]
        state = tx.init(params)
        out = np.empty_like(stream.g)
        for t in range(stream.steps):
            updates, state = tx.update(_split(jnp.asarray(stream.g[t]), stream.segments), state,
                                       _split(jnp.asarray(stream.w[t]), stream.segments))
            out[t] = -np.concatenate([np.asarray(u, np.float64) for u in updates])
        return out


def _torch_updates(module: Any, stream: Any) -> np.ndarray:
    import torch

    params = [torch.nn.Parameter(torch.zeros(len(p), dtype=torch.float64))
              for p in _split(stream.w[0], stream.segments)]
    optimizer = module.Optimizer(params, lr=float(stream.lr[0]))
    out = np.empty_like(stream.g)
    for t in range(stream.steps):
        with torch.no_grad():
            for p, w, g in zip(params, _split(stream.w[t], stream.segments),
                               _split(stream.g[t], stream.segments), strict=True):
                p.copy_(torch.from_numpy(np.ascontiguousarray(w)))
                p.grad = torch.from_numpy(np.ascontiguousarray(g)).clone()
        for group in optimizer.param_groups:
            group["lr"] = float(stream.lr[t])
        optimizer.step()
        with torch.no_grad():
            out[t] = stream.w[t] - np.concatenate([p.detach().numpy() for p in params])
    return out


def check_export(program: Program, suite: IdentificationSuite,
                 framework: str) -> tuple[str, dict[str, Any]]:
    """``(module text, report)``: the report says whether the module reproduces the target on
    every held-out step to :data:`~proxy_tasks.identification.suite.EXACT` (``ok``), the worst
    step's relative error, and a one-line ``message``."""
    from programs.export import to_source
    from programs.export.verify import load_generated

    text = to_source(program, target=framework)
    try:
        module = load_generated(text)
        worst = 0.0
        for e in suite.held_out:
            updates = (_optax_updates if framework == "optax" else _torch_updates)(module,
                                                                                   e.stream)
            errors = step_errors(updates[e.mask], e.target[e.mask])
            worst = max(worst, float(np.max(errors, initial=0.0)))
    except Exception as e:  # noqa: BLE001 - whatever breaks, report it instead of writing
        return text, {"ok": False, "framework": framework, "max_step_error": None,
                      "message": f"the module fails to run: {type(e).__name__}: {e}"}
    ok = bool(worst < EXACT)
    message = (f"reproduces the target on the held-out streams (largest step error {worst:.2g})"
               if ok else f"differs from the target on the held-out streams (largest step "
                          f"error {worst:.2g}, tolerance {EXACT:g})")
    return text, {"ok": ok, "framework": framework, "max_step_error": worst, "message": message}
