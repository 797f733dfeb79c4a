"""programs.to_ssa and programs.naming.readable: names change, behaviour does not."""

import programs
from programs import INPUTS, library, parse, to_ssa
from programs.naming import readable


def test_to_ssa_gives_every_assignment_a_fresh_name_and_keeps_first_spellings():
    p = parse("def train(w, g, m, v, lr):\n  m = interp(g, m, 0.9)\n  u = sign(m)\n"
              "  lr = lr * 0.1\n  u = u * lr\n  return u, m, v\n")
    q = to_ssa(p)
    assert [s.target for s in q.statements] == ["m_2", "u", "lr_2", "u_2"]
    assert q.outputs == ("u_2", "m_2", "v")
    assert programs.functional_fingerprint(p) == programs.functional_fingerprint(q)


def test_to_ssa_then_readable_round_trips_every_library_program():
    for name in library.names():
        p = library.load(name)
        q = to_ssa(p)
        targets = [s.target for s in q.statements]
        assert len(set(targets)) == len(targets) and not set(targets) & set(INPUTS)
        back = readable(list(q.statements), q.outputs)
        assert programs.fingerprint(back) == programs.fingerprint(p)
        assert programs.functional_fingerprint(back) == programs.functional_fingerprint(p)
