"""Verify an exported optimizer: run it beside the reference on the same small problem.

An export that silently differs from the program it came from is worse than no export, so
``evosearch export`` runs the module it wrote against :func:`programs.step` before reporting
success, and the tests do the same for every function of the library. The problem is a few
parameter tensors of different shapes and scales (so that per-tensor and global reductions
differ) and a fixed sequence of random gradients; the comparison is on the weights after each
step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from programs.learning_rate import split_lr_factor
from programs.ops import OPS, ArgKind
from programs.program import Arg, Program, Statement
from programs.reference import step, zeros_like_state

SHAPES: tuple[tuple[int, ...], ...] = ((4, 3), (5,), (2, 3, 2), ())
SCALES: tuple[float, ...] = (1.0, 0.1, 3.0, 0.5)

Trajectory = list[list[np.ndarray]]
"""The weights after each step: one list of arrays (one per parameter tensor) per step."""


def sample_problem(
    steps: int, seed: int = 0
) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    """Initial float32 weights and ``steps`` gradients, one array per tensor of :data:`SHAPES`."""
    rng = np.random.default_rng(seed)

    def draw() -> list[np.ndarray]:
        return [
            (scale * rng.standard_normal(shape)).astype(np.float32)
            for shape, scale in zip(SHAPES, SCALES, strict=True)
        ]

    return draw(), [draw() for _ in range(steps)]


def reference_trajectory(
    program: Program, params: list[np.ndarray], grads: list[list[np.ndarray]], lr: float
) -> Trajectory:
    """The weights after each step of :func:`programs.step` (the semantics to match) for an
    optimizer exported with learning rate ``lr``: the program runs at ``lr / factor``, its
    constant lr factor divided out as the exporters divide it out
    (:func:`programs.learning_rate.split_lr_factor`; where there is none, at ``lr``)."""
    split = split_lr_factor(program)
    if split is not None:
        lr = lr / split.factor
    w = [np.array(p) for p in params]
    m = v = zeros_like_state(w)
    out = []
    for g in grads:
        update, m, v = step(program, w, g, m, v, lr)
        w = [a - b for a, b in zip(w, update, strict=True)]
        out.append(w)
    return out


def optax_trajectory(
    transformation: Any, params: list[np.ndarray], grads: list[list[np.ndarray]], jit: bool = True
) -> Trajectory:
    """The weights after each step of an optax transformation (jitted unless ``jit=False``)."""
    import jax
    import optax

    def one_step(w: Any, state: Any, g: Any) -> tuple[Any, Any]:
        updates, state = transformation.update(g, state, w)
        return optax.apply_updates(w, updates), state

    run = jax.jit(one_step) if jit else one_step
    w = [jax.numpy.asarray(p) for p in params]
    state = transformation.init(w)
    out = []
    for g in grads:
        w, state = run(w, state, [jax.numpy.asarray(x) for x in g])
        out.append([np.asarray(x) for x in w])
    return out


def torch_trajectory(
    optimizer_class: Any,
    params: list[np.ndarray],
    grads: list[list[np.ndarray]],
    lr: float,
    **options: Any,
) -> Trajectory:
    """The weights after each ``step()`` of a torch optimizer class, built with ``lr`` and
    ``options`` on one param group."""
    import torch

    tensors = [torch.nn.Parameter(torch.tensor(p)) for p in params]
    optimizer = optimizer_class(tensors, lr=lr, **options)
    out = []
    for g in grads:
        for p, x in zip(tensors, g, strict=True):
            p.grad = torch.tensor(x)
        optimizer.step()
        out.append([p.detach().numpy().copy() for p in tensors])
    return out


def max_error(actual: Trajectory, expected: Trajectory) -> float:
    """The largest difference between two trajectories, relative to the weight where it
    exceeds 1 (absolute below). Non-finite values count as equal when both sides agree."""
    if len(actual) != len(expected):
        return float("inf")
    worst = 0.0
    for a_step, e_step in zip(actual, expected, strict=True):
        for a, e in zip(a_step, e_step, strict=True):
            a, e = np.asarray(a, np.float64), np.asarray(e, np.float64)
            if a.shape != e.shape:
                return float("inf")
            same = (a == e) | (np.isnan(a) & np.isnan(e))
            with np.errstate(invalid="ignore", over="ignore"):
                diff = np.where(same, 0.0, np.abs(a - e) / np.maximum(1.0, np.abs(e)))
            worst = max(worst, float(np.max(np.nan_to_num(diff, nan=np.inf), initial=0.0)))
    return worst


def coverage_programs() -> dict[str, Program]:
    """Small valid programs that together call every library function in every argument kind
    it accepts, to check a backend against the reference.

    Keys are ``"<function>/<variant>"``. Variants: ``tensor`` (tensor arguments where
    allowed), ``scalar`` (plain scalars: the learning rate and constants), ``per_tensor`` (a
    per-tensor scalar, ``norm(g)``, first) and ``zero`` (the never-written slot ``v``, all
    zeros, first: the guards' edge). Each program feeds the result into the update and into
    ``m``, so that later steps also see a non-zero state.
    """
    tensors, scalars = ("g", "m", "w"), ("lr", 0.7, -1.3)
    programs: dict[str, Program] = {}
    for name, op in OPS.items():
        takes_tensor = [kind is not ArgKind.SCALAR for kind in op.arg_kinds]
        takes_scalar = [kind is not ArgKind.TENSOR for kind in op.arg_kinds]
        variants: dict[str, list[Arg]] = {}
        variants["tensor"] = [
            tensors[i] if tensor else scalars[i] for i, tensor in enumerate(takes_tensor)
        ]
        if op.arity and all(takes_scalar):
            variants["scalar"] = list(scalars[: op.arity])
            variants["per_tensor"] = ["n", *scalars[1 : op.arity]]
        if op.arity and takes_tensor[0]:
            variants["zero"] = ["v", *variants["tensor"][1:]]
        for variant, args in variants.items():
            statements = [Statement("n", "norm", ("g",))] if "n" in args else []
            statements += [
                Statement("t", name, tuple(args)),
                Statement("u", "add", ("g", "t")),
                Statement("m", "interp", ("u", "m", 0.5)),
                Statement("update", "mul", ("u", "lr")),
            ]
            programs[f"{name}/{variant}"] = Program(tuple(statements))
    return programs


def load_generated(text: str, name: str = "evosearch_export_check") -> Any:
    """Import generated module ``text`` from a temporary file and return the module: how an
    export is checked before it is written. The text is this package's own output, never
    user input."""
    import importlib.util
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"{name}.py"
        path.write_text(text, encoding="utf-8")
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import the generated module {name}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module
