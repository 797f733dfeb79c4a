"""Targets: the optimizer whose program identification recovers, as a black box that steps.

Every target that can be called gives a *stepper* for a parameter layout: a function
``step(w, g, lr) -> update`` with the optimizer's state kept inside, in the programs' sign
convention (training does ``w = w - update``). Kinds:

* a program: a library name (``lion``) or a ``.prog`` file, run by the reference executor;
* ``optax:NAME(key=value, ...)``: an optax optimizer, run in float64 with its learning rate
  injected at every step (``optax.inject_hyperparams``), so that it follows the stream's
  schedule;
* ``torch:NAME(key=value, ...)``: a ``torch.optim`` optimizer on float64 tensors (needs the
  ``torch`` extra);
* a recorded trace (``.npz``, see :mod:`proxy_tasks.identification.traces`), which cannot be
  called: it *is* the data.

Parameters are handed to library optimizers as a list of tensors, one per segment of the flat
vector, so that per-tensor norms mean the same on both sides.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from programs import Program, ProgramError, library
from proxy_tasks.identification.spec import CallSpec, TargetError, parse_call

Stepper = Callable[[np.ndarray, np.ndarray, float], np.ndarray]
"""``step(w, g, lr) -> update`` on flat float64 vectors, state kept inside."""


@dataclass(frozen=True)
class Target:
    """A callable optimizer: ``text`` as the user wrote it, ``kind`` (``program``, ``optax``,
    ``torch``), and ``make(segments)`` giving a fresh stepper for a layout.
    ``learning_rate``: the peak learning rate the streams drive it with (a library target's
    own ``learning_rate=`` when given, else 1)."""

    text: str
    kind: str
    make: Callable[[np.ndarray], Stepper]
    learning_rate: float = 1.0
    program: Program | None = None


def load_target(text: str) -> Target:
    """The target ``text`` names; a :class:`TargetError` (one line) if it cannot be used. Trace
    files are not callable targets: see :func:`proxy_tasks.identification.traces.load_trace`."""
    text = text.strip()
    library_name = text.partition(":")[0]
    if library_name == "optax":
        return _optax_target(text, parse_call(text))
    if library_name == "torch":
        return _torch_target(text, parse_call(text))
    try:
        program = library.resolve(text)
    except (LookupError, ProgramError) as e:
        raise TargetError(
            f"target {text!r}: {e.args[0] if e.args else e} (a target is optax:NAME(...), "
            "torch:NAME(...), a library program, a .prog file or a .npz trace)") from None
    return Target(text, "program", lambda segments: _program_stepper(program, segments),
                  program=program)


def _program_stepper(program: Program, segments: np.ndarray) -> Stepper:
    """The program's step in float64 through the one executor (:mod:`programs.execute`), its
    statements prepared once: identification runs millions of steps, so nothing is looked up
    or converted per step that need not be (float64 inputs and Python float constants keep
    every value float64)."""
    from programs.execute import execute, prepare
    from programs.reference import NumpyBackend

    backend = NumpyBackend(segments, int(segments.max()) + 1)
    code = prepare(program, backend)
    update_name, m_name, v_name = program.outputs
    state = [np.zeros(len(segments)), np.zeros(len(segments))]
    shape = segments.shape

    def step(w: np.ndarray, g: np.ndarray, lr: float) -> np.ndarray:
        # Scalars as numpy float64, as the reference step has them: a reduction of a value
        # made of constants and lr alone (``global_norm(lr * 2.0)``) needs a dtype.
        env = execute(code, backend,
                      {"w": w, "g": g, "m": state[0], "v": state[1], "lr": np.float64(lr)},
                      constant=np.float64)
        state[0], state[1] = env[m_name], env[v_name]
        update = env[update_name]
        if update.__class__ is not np.ndarray or update.shape != shape:
            update = np.broadcast_to(np.asarray(update, np.float64), shape)
        return update

    return step


def _split(x: np.ndarray, segments: np.ndarray) -> list[np.ndarray]:
    bounds = np.flatnonzero(np.diff(segments)) + 1
    return np.split(x, bounds)


def _check_kwargs(spec: CallSpec, factory: Callable, allowed_extra: tuple[str, ...] = ()) -> None:
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return
    takes = [p for p in parameters if p not in ("params", "self")]
    for key, _ in spec.kwargs:
        if key not in takes and key not in allowed_extra:
            hint = difflib.get_close_matches(key, takes, n=1)
            did = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise TargetError(f"target {spec}: {spec.name} takes no keyword {key!r}{did}; it "
                              f"takes {', '.join(takes)}")


def _learning_rate(spec: CallSpec, key: str) -> float:
    value = dict(spec.kwargs).get(key, 1.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise TargetError(f"target {spec}: {key} must be a positive number, got {value!r}")
    return float(value)


# --- optax ---------------------------------------------------------------------------------


def _optax_factories() -> dict[str, Callable]:
    import optax

    out = {}
    for name in dir(optax):
        obj = getattr(optax, name)
        if name.startswith("_") or not callable(obj) or inspect.isclass(obj):
            continue
        try:
            parameters = inspect.signature(obj).parameters
        except (TypeError, ValueError):
            continue
        if "learning_rate" in parameters:
            out[name] = obj
    return out


def _optax_target(text: str, spec: CallSpec) -> Target:
    factories = _optax_factories()
    factory = factories.get(spec.name)
    if factory is None:
        hint = difflib.get_close_matches(spec.name, list(factories), n=3)
        did = f"; did you mean {', '.join(hint)}?" if hint else ""
        raise TargetError(f"target {text!r}: optax has no optimizer {spec.name!r}{did}")
    _check_kwargs(spec, factory)
    peak = _learning_rate(spec, "learning_rate")
    kwargs = {k: v for k, v in spec.kwargs if k != "learning_rate"}
    static = tuple(k for k, v in kwargs.items() if not isinstance(v, int | float)
                   or isinstance(v, bool))

    def make(segments: np.ndarray) -> Stepper:
        import jax
        import optax

        with jax.enable_x64(True):
            try:
                opt = optax.inject_hyperparams(factory, static_args=static)(
                    learning_rate=peak, **kwargs)
                params = [np.zeros(len(p)) for p in _split(np.zeros(len(segments)), segments)]
                state = [opt.init(params)]
            except Exception as e:  # noqa: BLE001 - the library's own message, in one line
                raise TargetError(f"target {text!r}: optax refused it: {e}") from None
            update_fn = jax.jit(opt.update)

        def step(w: np.ndarray, g: np.ndarray, lr: float) -> np.ndarray:
            with jax.enable_x64(True):
                s = state[0]
                s.hyperparams["learning_rate"] = np.float64(lr)
                updates, state[0] = update_fn(_split(g, segments), s, _split(w, segments))
                return -np.concatenate([np.asarray(u, np.float64) for u in updates])

        return step

    return Target(text, "optax", make, learning_rate=peak)


# --- torch ---------------------------------------------------------------------------------


def _torch_target(text: str, spec: CallSpec) -> Target:
    try:
        import torch
    except ImportError:
        raise TargetError(f"target {text!r}: torch targets need the torch extra "
                          "(pip install -e \".[torch]\")") from None
    classes = {name: obj for name, obj in vars(torch.optim).items()
               if inspect.isclass(obj) and issubclass(obj, torch.optim.Optimizer)
               and obj is not torch.optim.Optimizer}
    cls = classes.get(spec.name)
    if cls is None:
        hint = difflib.get_close_matches(spec.name, list(classes), n=3)
        did = f"; did you mean {', '.join(hint)}?" if hint else ""
        raise TargetError(f"target {text!r}: torch.optim has no optimizer {spec.name!r}{did}")
    _check_kwargs(spec, cls)
    peak = _learning_rate(spec, "lr")
    kwargs = {k: (list(v) if isinstance(v, tuple) else v) for k, v in spec.kwargs if k != "lr"}
    kwargs = {k: (tuple(v) if isinstance(v, list) else v) for k, v in kwargs.items()}

    def make(segments: np.ndarray) -> Stepper:
        params = [torch.zeros(len(p), dtype=torch.float64, requires_grad=True)
                  for p in _split(np.zeros(len(segments)), segments)]
        try:
            opt = cls(params, lr=peak, **kwargs)
        except Exception as e:  # noqa: BLE001 - the library's own message, in one line
            raise TargetError(f"target {text!r}: torch refused it: {e}") from None

        def step(w: np.ndarray, g: np.ndarray, lr: float) -> np.ndarray:
            with torch.no_grad():
                for p, wi, gi in zip(params, _split(w, segments), _split(g, segments),
                                     strict=True):
                    p.copy_(torch.from_numpy(np.ascontiguousarray(wi)))
                    p.grad = torch.from_numpy(np.ascontiguousarray(gi)).clone()
            for group in opt.param_groups:
                group["lr"] = float(lr)
            opt.step()
            with torch.no_grad():
                after = np.concatenate([p.detach().numpy() for p in params])
            return w - after

        return step

    return Target(text, "torch", make, learning_rate=peak)


def is_trace(text: str) -> bool:
    """Whether ``text`` names a recorded trace file rather than a callable target."""
    return text.strip().endswith(".npz") or (Path(text).suffix == ".npz")


def target_updates(make_step: Callable[[np.ndarray], Stepper], stream: Any) -> np.ndarray:
    """The target's update at every step of ``stream``, teacher-forced; raises
    :class:`TargetError` if it is not finite."""
    step = make_step(stream.segments)
    out = np.empty_like(stream.g)
    with np.errstate(all="ignore"):
        for t in range(stream.steps):
            out[t] = step(stream.w[t], stream.g[t], float(stream.lr[t]))
    if not np.all(np.isfinite(out)):
        raise TargetError(f"the target produces non-finite updates on the probe stream "
                          f"{stream.name!r}")
    return out
