"""Funnel thresholds and the selection order."""

from __future__ import annotations

from evosearch.config import FunnelSettings
from evosearch.engine.funnel import Funnel, selection_key
from proxy_tasks.suites import Score


def test_selection_prefers_the_higher_stage_then_lower_fitness():
    assert selection_key(2, 0.9) < selection_key(1, 0.1) < selection_key(1, 0.2)


def test_baseline_threshold_with_factor():
    funnel = Funnel(FunnelSettings(factor=1.1, stage_factors=()), 3, [1.0, -2.0, 5.0])
    none = lambda stage: []  # noqa: E731
    assert funnel.promotes(0, Score(1.1), none)
    assert not funnel.promotes(0, Score(1.11), none)
    assert funnel.promotes(1, Score(-1.8), none)  # looser by 10 % of |baseline| when negative
    assert not funnel.promotes(1, Score(-1.7), none)
    assert not funnel.promotes(2, Score(0.0), none)  # the last stage promotes nowhere
    assert not funnel.promotes(0, Score(0.0, failed=True), none)


def test_quantile_threshold_falls_back_to_the_baseline_when_few_are_scored():
    funnel = Funnel(FunnelSettings(threshold="quantile", quantile=0.5, min_members=4,
                                   stage_factors=()), 2,
                    [1.0, 1.0])
    values = [0.1, 0.2, 0.3, 0.4, 0.5]
    assert funnel.threshold(0, lambda stage: values) == 0.3
    assert funnel.promotes(0, Score(0.3), lambda stage: values)
    assert not funnel.promotes(0, Score(0.31), lambda stage: values)
    assert funnel.threshold(0, lambda stage: values[:3]) == 1.0


def test_no_baseline_means_no_bound():
    funnel = Funnel(FunnelSettings(), 2, [None, None])
    assert funnel.promotes(0, Score(1e6), lambda stage: [])


def test_stage_factors_override_the_factor_per_promotion():
    settings = FunnelSettings(factor=1.0, stage_factors=(1.1,))
    funnel = Funnel(settings, 3, [2.0, 1.0, 1.0])
    assert funnel.baseline_threshold(0) == 2.2  # loose screen: the first factor
    assert funnel.baseline_threshold(1) == 1.0  # no second factor: the plain factor
    strict = Funnel(FunnelSettings(stage_factors=(1.0, 0.985)), 3, [1.0, 1.0, 1.0])
    assert strict.baseline_threshold(1) == 0.985


def test_best_margins_also_bound_a_promotion_by_the_population_best():
    settings = FunnelSettings(stage_factors=(1.1, 0.985), best_margins=(1e9, 0.01))
    funnel = Funnel(settings, 3, [1.0, 1.0, 1.0])
    members = {0: [0.99], 1: [0.95, 0.97, 1.2]}
    population = members.__getitem__
    # Screen: a huge margin, so the baseline factor alone: 1.1.
    assert funnel.threshold(0, population) == 1.1
    # Stage m: 0.985 from the baseline, but the best member sits at 0.95: 0.95 * 1.01.
    assert abs(funnel.threshold(1, population) - 0.9595) < 1e-12
    assert funnel.promotes(1, Score(0.959), population)
    assert not funnel.promotes(1, Score(0.97), population)  # passes 0.985, not the margin
    # Nobody scored yet: the baseline's bound.
    assert funnel.threshold(1, lambda stage: []) == 0.985
    # The baseline still binds when it is the stricter.
    loose = Funnel(FunnelSettings(stage_factors=(1.0, 0.985), best_margins=(1.0, 1.0)), 3,
                   [1.0, 1.0, 1.0])
    assert loose.threshold(1, population) == 0.985


def test_best_margins_must_be_finite_and_not_negative():
    import pytest

    from evosearch.config import Config, ConfigError, apply_overrides

    with pytest.raises(ConfigError, match="best_margins"):
        apply_overrides(Config(), ["funnel.best_margins=[-0.1]"])
    # inf would break the strict-JSON checkpoint mid-search (it did): refused up front.
    with pytest.raises(ConfigError, match="finite"):
        apply_overrides(Config(), ["funnel.best_margins=[inf, 0.01]"])
