"""The language of optimizer programs.

A program is a straight-line function ``train(w, g, m, v, lr) -> (update, m, v)`` over a fixed
library of functions (:mod:`programs.ops`); training does ``w = w - update``. This package
parses and prints programs, runs them on numpy arrays, checks them by abstract execution,
fingerprints them, and turns them into sympy. It needs numpy, sympy and networkx only: no jax.
"""

from programs import library
from programs.analysis import (
    Liveness,
    Problem,
    check,
    graph,
    infer_kinds,
    is_valid,
    live_statements,
    liveness,
    redundancy,
    remove_dead_code,
)
from programs.families import canonical
from programs.fingerprint import fingerprint, functional_fingerprint
from programs.naming import to_ssa
from programs.ops import EPS, INPUTS, OPS, OUTPUTS, Kind, Op
from programs.program import Arg, Program, ProgramError, Statement
from programs.recognize import Match, known_optimizers, recognize
from programs.reference import step, train, zeros_like_state
from programs.simplification import simplify
from programs.symbolic import SymbolicStep, to_latex, to_sympy
from programs.text import format_program as format
from programs.text import parse, read

__all__ = [
    "EPS",
    "INPUTS",
    "OPS",
    "OUTPUTS",
    "Arg",
    "Kind",
    "Liveness",
    "Match",
    "Op",
    "Problem",
    "Program",
    "ProgramError",
    "Statement",
    "SymbolicStep",
    "canonical",
    "check",
    "fingerprint",
    "format",
    "functional_fingerprint",
    "graph",
    "infer_kinds",
    "is_valid",
    "known_optimizers",
    "library",
    "live_statements",
    "liveness",
    "parse",
    "read",
    "recognize",
    "redundancy",
    "remove_dead_code",
    "simplify",
    "step",
    "to_latex",
    "to_ssa",
    "to_sympy",
    "train",
    "zeros_like_state",
]
