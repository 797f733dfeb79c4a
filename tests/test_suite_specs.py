"""Suites are data: the built-in suites are TOML files of the same form a user writes, and every
mistake in one is a clear error naming where it is."""

from __future__ import annotations

import pytest

from proxy_tasks.lr_policy import NAMED_POLICIES, CoarseToFine, Grid, policy_from_data
from proxy_tasks.suites import (
    SuiteError,
    SuiteSpec,
    builtin_specs,
    check_reference,
    get_suite,
    suite_names,
)

TABLE = {
    "name": "mine",
    "description": "one tiny stage",
    "stages": [{"name": "s", "tasks": ["teacher/xs"], "seeds": [0], "lrs": [0.3, 1.0, 3.0]}],
}


def test_builtin_suites_round_trip_through_their_written_form():
    specs = builtin_specs()
    assert {"default", "diverse", "roundtwo", "smoke"} <= set(specs)
    for spec in specs.values():
        assert SuiteSpec.from_data(spec.to_data(), "round trip") == spec
    default = specs["default"]
    assert default.stage("m").lrs == NAMED_POLICIES["full"]
    assert default.stage(0).lrs == Grid.around(1.0, 1.0)
    assert specs["roundtwo"].stage("s").lrs == CoarseToFine()


def test_lr_policies_have_three_written_forms():
    assert policy_from_data("grid", "x") == NAMED_POLICIES["grid"]
    assert policy_from_data([0.1, 1.0], "x") == Grid((0.1, 1.0))
    assert policy_from_data({"decades": 1.5, "step": 0.5}, "x") == Grid.around(1.5, 0.5)
    table = {"coarse": {"decades": 1.5, "step": 0.75}, "extend": 3}
    assert policy_from_data(table, "x") == CoarseToFine(coarse=Grid.around(1.5, 0.75), extend=3)
    for bad, message in (("gird", "unknown lr policy 'gird'"), ([0.0], "positive"),
                         ({"decades": 1, "stpe": 1}, "unknown keys"), (3, "a name, a list")):
        with pytest.raises(ValueError, match=message):
            policy_from_data(bad, "suite.stages[0].lrs")


@pytest.mark.parametrize(("change", "message"), [
    ({"stages": []}, "stages must be a non-empty list"),
    ({"stgaes": []}, "unknown key 'stgaes' \\(did you mean 'stages'\\?\\)"),
    ({"name": 3}, "name must be a str"),
    ({"stages": [{"name": "s", "tasks": []}]}, r"stages\[0\]: tasks must be a non-empty list"),
    ({"stages": [{"name": "s", "tasks": ["a/b"], "weights": [1, 2]}]}, "weights must be 1"),
    ({"stages": [{"name": "s", "tasks": ["a/b"], "seeds": [-1]}]}, "seeds must be"),
    ({"stages": [{"name": "s", "tasks": ["a/b"]}, {"name": "s", "tasks": ["a/b"]}]},
     "stage names must differ"),
])
def test_a_malformed_table_names_the_source_and_the_key(change, message):
    with pytest.raises(SuiteError, match=message) as info:
        SuiteSpec.from_data({**TABLE, **change}, "run.toml [suite]")
    assert str(info.value).startswith("run.toml [suite]")


def test_references_are_checked_without_building_anything():
    assert check_reference("default") == "default"
    assert check_reference("identify:optax:lion") == "identify:optax:lion"
    assert check_reference(TABLE)["stages"][0]["weights"] == [1.0]
    with pytest.raises(SuiteError, match="unknown suite 'defualt' \\(did you mean 'default'"):
        check_reference("defualt", "search.suite")
    with pytest.raises(SuiteError, match="unknown suite kind 'identfy'"):
        check_reference("identfy:lion")
    with pytest.raises(SuiteError, match="needs an argument"):
        check_reference("identify:")
    assert "identify:<target>" in suite_names() and "default" in suite_names()


def test_a_suite_from_a_table_scores_like_a_builtin_one():
    from programs import library

    suite = get_suite(TABLE)
    assert suite.name == "mine" and suite.stage_names == ("s",)
    (score,) = suite.evaluate([library.load("adamw")], 0)
    assert score.fitness == pytest.approx(1.0)
    with pytest.raises(KeyError, match="unknown task 'nope/xs'"):
        get_suite({**TABLE, "stages": [{"name": "s", "tasks": ["nope/xs"]}]})
