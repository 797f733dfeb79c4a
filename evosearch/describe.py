"""Names and short forms of programs for people: recognition and simplification, if available.

Both come from the language package (``programs``) and are used for the progress line, the
report and the lineage, never for fitness. They are optional here: where the language does not
provide them (or they fail on an odd program), the search carries on without a name.
"""

from __future__ import annotations

from functools import lru_cache

from programs import Program


def _recognizer():
    try:
        import programs
    except ImportError:  # pragma: no cover
        return None
    for name in ("recognize", "recognise"):
        fn = getattr(programs, name, None)
        if callable(fn):
            return fn
        module = getattr(programs, name, None)
        if module is not None and callable(getattr(module, name, None)):
            return getattr(module, name)
    try:
        from programs.recognition import recognize  # type: ignore[import-not-found]
    except ImportError:
        return None
    return recognize


@lru_cache(maxsize=256)
def recognize(program: Program) -> str:
    """A short name for the program's family (``"Lion-like"``), or ``""`` if unknown."""
    fn = _recognizer()
    if fn is None:
        return ""
    try:
        result = fn(program)
    except Exception:  # noqa: BLE001 - naming is a nicety, never a reason to stop
        return ""
    if result is None:
        return ""
    for attr in ("label", "name", "family"):
        value = getattr(result, attr, None)
        if isinstance(value, str) and value:
            return value
    return str(result)


@lru_cache(maxsize=256)
def simplify(program: Program) -> Program:
    """The program without dead code, algebraically simplified where the language can."""
    from programs import remove_dead_code

    program = remove_dead_code(program)
    try:
        from programs.simplification import simplify as analytic
    except ImportError:  # pragma: no cover
        return program
    try:
        return analytic(program)
    except Exception:  # noqa: BLE001
        return program
