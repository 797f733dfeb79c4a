"""Identification: recover an optimizer's program from its behaviour.

Given a target (an optax or torch optimizer, a program, or a recorded trace), the suite
``identify:<target>`` scores a candidate program by how far its updates are from the target's on
the same inputs (:mod:`~proxy_tasks.identification.suite`); the search minimises that like any
fitness, and :mod:`~proxy_tasks.identification.polish` fits the found program's constants. This
is system identification of optimizers (the optimizer counterpart of symbolic regression's
ground-truth recovery), not discovery: it finds a *known* optimizer's program, and says so.
"""

from proxy_tasks.identification.spec import TargetError
from proxy_tasks.identification.suite import (
    EXACT,
    PREFIX,
    Assessment,
    Experiment,
    IdentificationSuite,
)
from proxy_tasks.identification.targets import Target, is_trace, load_target

__all__ = [
    "EXACT",
    "PREFIX",
    "Assessment",
    "Experiment",
    "IdentificationSuite",
    "Target",
    "TargetError",
    "is_trace",
    "load_target",
]
