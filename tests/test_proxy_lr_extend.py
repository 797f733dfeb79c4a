"""Coarse-to-fine lr tuning follows a program whose scale lies beyond the coarse grid."""

import pytest

import programs
from proxy_tasks import evaluate
from proxy_tasks.lr_policy import CoarseToFine, Grid


def test_edge_extension_recovers_a_program_whose_lr_scale_is_far_off() -> None:
    lion = programs.library.load("lion")
    # The same optimizer with an lr constant 1000x too small: three decades below the grid.
    shrunk = programs.parse(programs.format(lion).replace("0.0001", "1e-07"))
    policy = CoarseToFine(coarse=Grid.around(1.0, 0.5), extend=0)
    clipped = evaluate("teacher/xs", [lion, shrunk], lrs=policy, seeds=(0,))
    assert clipped.best_loss[1] > clipped.best_loss[0] + 0.1  # stuck at the grid's edge
    walked = evaluate("teacher/xs", [lion, shrunk],
                      lrs=CoarseToFine(coarse=Grid.around(1.0, 0.5), extend=6), seeds=(0,))
    assert walked.best_loss[1] == walked.best_loss[0]  # same optimizer, same lr found
    assert walked.best_lr[1] == pytest.approx(1000 * walked.best_lr[0])
    # Programs inside the grid do not move: Lion's own result is unchanged by extension.
    assert walked.best_loss[0] == clipped.best_loss[0]
