"""A program as a ``torch.optim.Optimizer`` subclass: ``to_torch(program)``."""

from __future__ import annotations

import torch

from programs.execute import step_function
from programs.export import torch_runtime
from programs.export.prepare import prepare
from programs.program import Program
from programs.text import format_program


def to_torch(program: Program, name: str = "ProgramOptimizer") -> type[torch.optim.Optimizer]:
    """A ``torch.optim.Optimizer`` subclass that runs ``program``.

    Use it like any torch optimizer: ``opt = cls(model.parameters(), lr=3e-4)``. ``lr`` (per
    param group) is the step size: the program's constant lr factor (Lion's
    ``lr = lr * 0.0001``) is divided out of the program and is the default ``lr``
    (``cls.default_lr``), which reproduces the program as searched. A program that does not use
    ``lr`` as one constant factor of its update gets ``lr`` as its ``lr`` input (default 1.0);
    the class docstring says which case applies. Each parameter's state holds only the slots the
    program reads;
    ``state_dict``/``load_state_dict`` round-trip. ``foreach=False`` loops over parameters
    instead of using ``torch._foreach_*`` kernels. Raises :class:`programs.ProgramError` for an
    invalid program.
    """
    if not name.isidentifier():
        raise ValueError(f"class name must be a Python identifier, got {name!r}")
    prepared = prepare(program)
    train = step_function(prepared.program, torch_runtime)
    doc = (
        "A torch optimizer exported from this evosearch program (dead code removed"
        + (", lr factor divided out" if prepared.lr_factor is not None else "")
        + "):\n\n" + format_program(prepared.program) + "\n" + prepared.learning_rate_doc()
    )
    return type(
        name,
        (torch_runtime.ProgramOptimizer,),
        {
            "__doc__": doc,
            "__module__": __name__,
            "program": prepared.program,
            "slots": prepared.slots,
            "reads_params": prepared.reads_params,
            "default_lr": prepared.default_learning_rate,
            "train": staticmethod(train),
        },
    )
