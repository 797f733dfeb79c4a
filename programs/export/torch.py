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

    Use it like any torch optimizer: ``opt = cls(model.parameters(), lr=1.0)``; ``lr`` (per param
    group) is fed to the program's ``lr`` input, so library programs keep their own scale (Lion
    multiplies by 1e-4). Each parameter's state holds only the slots the program reads;
    ``state_dict``/``load_state_dict`` round-trip. ``foreach=False`` loops over parameters
    instead of using ``torch._foreach_*`` kernels. Raises :class:`programs.ProgramError` for an
    invalid program.
    """
    if not name.isidentifier():
        raise ValueError(f"class name must be a Python identifier, got {name!r}")
    prepared = prepare(program)
    train = step_function(prepared.program, torch_runtime)
    doc = (
        "A torch optimizer exported from this evosearch program (dead code removed):\n\n"
        + format_program(prepared.program)
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
            "train": staticmethod(train),
        },
    )
