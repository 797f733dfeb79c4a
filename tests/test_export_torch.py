"""programs.export.to_torch: a program as a torch.optim.Optimizer subclass."""

from __future__ import annotations

import io

import pytest

torch = pytest.importorskip("torch")

import programs  # noqa: E402
from programs import ProgramError  # noqa: E402
from programs.export import to_torch  # noqa: E402
from programs.export.verify import (  # noqa: E402
    coverage_programs,
    max_error,
    reference_trajectory,
    sample_problem,
    torch_trajectory,
)

LION = programs.library.load("lion")


def _model(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))


def _batches(count: int, seed: int = 1) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    return [
        (torch.randn(16, 6, generator=g), torch.randn(16, 3, generator=g)) for _ in range(count)
    ]


def _train(model: torch.nn.Module, optimizer: torch.optim.Optimizer, batches: list) -> None:
    for x, y in batches:
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()


@pytest.mark.parametrize("foreach", [True, False])
@pytest.mark.parametrize("name", ["lion", "adamw", "adagrad", "nesterov"])
def test_library_programs_match_the_reference_over_many_steps(name: str, foreach: bool) -> None:
    program = programs.library.load(name)
    params, grads = sample_problem(200, seed=5)
    cls = to_torch(program)
    lr = 2.0 * cls.default_lr  # the default: the program's own lr factor
    expected = reference_trajectory(program, params, grads, lr=lr)
    got = torch_trajectory(cls, params, grads, lr=lr, foreach=foreach)
    assert max_error(got, expected) < 1e-5


@pytest.mark.parametrize("foreach", [True, False])
def test_every_function_matches_the_reference(foreach: bool) -> None:
    params, grads = sample_problem(3)
    failures = {}
    for key, program in coverage_programs().items():
        expected = reference_trajectory(program, params, grads, lr=0.37)
        got = torch_trajectory(to_torch(program), params, grads, lr=0.37, foreach=foreach)
        error = max_error(got, expected)
        if not error < 1e-5:
            failures[key] = error
    assert not failures


def test_state_holds_only_the_slots_the_program_reads() -> None:
    model = _model()
    optimizer = to_torch(LION)(model.parameters(), lr=1.0)
    _train(model, optimizer, _batches(2))
    for p in model.parameters():
        assert set(optimizer.state[p]) == {"m"}
        assert optimizer.state[p]["m"].shape == p.shape
    sgd = to_torch(programs.library.load("sgd"))(model.parameters(), lr=1.0)
    _train(model, sgd, _batches(1))
    assert all(not sgd.state[p] for p in model.parameters())


def test_state_dict_round_trip_resumes_exactly() -> None:
    cls = to_torch(programs.library.load("adamw"))
    batches = _batches(20)

    straight = _model()
    opt = cls(straight.parameters(), lr=3e-3)
    _train(straight, opt, batches)

    first = _model()
    opt = cls(first.parameters(), lr=3e-3)
    _train(first, opt, batches[:8])
    buffer = io.BytesIO()
    torch.save({"model": first.state_dict(), "opt": opt.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)  # plain tensors and dicts: no unpickling code

    resumed = _model(seed=99)
    opt = cls(resumed.parameters(), lr=0.5)
    resumed.load_state_dict(saved["model"])
    opt.load_state_dict(saved["opt"])
    assert opt.param_groups[0]["lr"] == 3e-3
    _train(resumed, opt, batches[8:])
    for a, b in zip(straight.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(a, b)


def test_param_groups_have_their_own_lr_and_global_reductions() -> None:
    # update = g / global_norm(g): the norm is over the param group, not the whole model.
    program = programs.parse(
        "def train(w, g, m, v, lr):\n  n = global_norm(g)\n  u = g / n\n  update = u * lr\n"
        "  return update, m, v\n"
    )
    a, b, c = (torch.nn.Parameter(torch.zeros(3)) for _ in range(3))
    optimizer = to_torch(program)([{"params": [a, b], "lr": 1.0}, {"params": [c], "lr": 0.5}])
    for p, g in zip((a, b, c), ([3.0, 0, 0], [0, 4.0, 0], [0, 0, 2.0]), strict=True):
        p.grad = torch.tensor(g)
    optimizer.step()
    assert torch.allclose(a, torch.tensor([-0.6, 0, 0]))
    assert torch.allclose(b, torch.tensor([0, -0.8, 0]))
    assert torch.allclose(c, torch.tensor([0, 0, -0.5]))


def test_parameters_without_gradients_are_left_alone() -> None:
    model = _model()
    frozen = model[0].weight
    before = frozen.detach().clone()
    optimizer = to_torch(LION)(model.parameters(), lr=1.0)
    x, y = _batches(1)[0]
    torch.nn.functional.mse_loss(model(x), y).backward()
    frozen.grad = None
    optimizer.step()
    assert torch.equal(frozen, before) and frozen not in optimizer.state
    assert not torch.equal(model[2].weight, _model()[2].weight)


def test_state_never_aliases_the_gradient() -> None:
    # m = g kept as is would be zeroed in place by zero_grad(set_to_none=False).
    program = programs.parse(
        "def train(w, g, m, v, lr):\n  u = m + g\n  update = u * lr\n  return update, g, v\n"
    )
    p = torch.nn.Parameter(torch.zeros(2))
    optimizer = to_torch(program)([p], lr=1.0)
    p.grad = torch.tensor([1.0, 2.0])
    optimizer.step()
    optimizer.zero_grad(set_to_none=False)
    assert torch.equal(optimizer.state[p]["m"], torch.tensor([1.0, 2.0]))


def test_closure_and_errors() -> None:
    model = _model()
    optimizer = to_torch(LION)(model.parameters(), lr=1.0)
    x, y = _batches(1)[0]

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        return loss

    assert optimizer.step(closure) > 0
    with pytest.raises(ValueError, match="lr must be"):
        to_torch(LION)(model.parameters(), lr=-1.0)
    with pytest.raises(ProgramError, match="invalid program"):
        to_torch(programs.Program((programs.Statement("update", "sign", ("w",)),)))
    assert "interp(g, m, 0.9)" in to_torch(LION).__doc__
