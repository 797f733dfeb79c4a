"""Settings: defaults, TOML, overrides, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from evosearch import config as cfg
from evosearch.config import Config, ConfigError
from evosearch.engine.mutation import KINDS
from evosearch.run.runner import resume_config

ROOT = Path(__file__).resolve().parents[1]


def test_default_toml_lists_exactly_the_defaults():
    data = cfg.read_toml(ROOT / "experiments" / "default.toml")
    assert cfg.from_dict(data) == Config()
    # Every setting appears in the file (documented), none is missing.
    listed = set()
    for section, values in data.items():
        for key, value in values.items():
            if isinstance(value, dict):
                listed |= {f"{section}.{key}.{k}" for k in value}
            else:
                listed.add(f"{section}.{key}")
    assert listed == {key for key, _, _ in cfg.documented_fields()}
    assert all(doc for _, _, doc in cfg.documented_fields())


def test_default_toml_is_written_from_the_settings_with_their_docs():
    # Values, keys, order and every doc: regenerate with config.default_toml() after a change.
    assert (ROOT / "experiments" / "default.toml").read_text() == cfg.default_toml()


def test_the_backend_setting_and_its_doc_come_from_the_table_of_backends():
    from evosearch.backends import BACKENDS

    doc = dict((k, d) for k, _, d in cfg.documented_fields())["executor.backend"]
    for name, backend in BACKENDS.items():
        assert f"'{name}': {backend.doc}" in doc
        assert cfg.load(None, [f"executor.backend={name}"]).executor.backend == name


def test_experiment_files_load():
    paths = sorted((ROOT / "experiments").rglob("*.toml"))
    assert {p.name for p in paths} >= {"default.toml", "smoke.toml", "rediscover_lion.toml"}
    for path in paths:
        cfg.load(path)


def test_toml_file_and_overrides(tmp_path):
    path = tmp_path / "x.toml"
    path.write_text('[evolution]\npopulation = 40\n[mutation.weights]\noutput = 0\n'
                    '[search]\nsuite = "numpy"\n')
    c = cfg.load(path, ["evolution.tournament=7", "funnel.factor=1.05", "search.warm_start=lion",
                        "mutation.functions=['sign', 'interp']"])
    assert c.evolution.population == 40
    assert c.evolution.tournament == 7
    assert c.mutation.weights.output == 0.0
    assert c.funnel.factor == 1.05
    assert c.search.warm_start == "lion"
    assert c.mutation.functions == ("sign", "interp")
    assert cfg.from_dict(cfg.to_dict(c)) == c


def test_unknown_key_in_file_is_named_with_a_suggestion(tmp_path):
    path = tmp_path / "typo.toml"
    path.write_text("[evolution]\npopulaton = 40\n")
    with pytest.raises(ConfigError) as e:
        cfg.load(path)
    assert str(path) in str(e.value)
    assert "evolution.populaton" in str(e.value)
    assert "did you mean 'population'" in str(e.value)


def test_unknown_section_and_override_keys():
    with pytest.raises(ConfigError, match="unknown key 'evolutoin'.*did you mean 'evolution'"):
        cfg.from_dict({"evolutoin": {}})
    with pytest.raises(ConfigError, match="unknown key 'search.max_evals'.*max_evaluations"):
        cfg.load(None, ["search.max_evals=3"])
    with pytest.raises(ConfigError, match="unknown section 'serch'"):
        cfg.load(None, ["serch.seed=3"])
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        cfg.load(None, ["search.seed"])


def test_wrong_types_and_values_are_errors(tmp_path):
    with pytest.raises(ConfigError, match="evolution.population must be an integer"):
        cfg.load(None, ["evolution.population=1.5"])
    with pytest.raises(ConfigError, match="cache.functional must be true or false"):
        cfg.load(None, ["cache.functional=1"])
    with pytest.raises(ConfigError, match="funnel.threshold"):
        cfg.load(None, ["funnel.threshold=median"])
    with pytest.raises(ConfigError, match="unknown functions"):
        cfg.load(None, ["mutation.functions=['sgn']"])
    with pytest.raises(ConfigError, match="at least one weight"):
        cfg.load(None, [f"mutation.weights.{k}=0" for k in KINDS])
    bad = tmp_path / "bad.toml"
    bad.write_text("[search\n")
    with pytest.raises(ConfigError, match="bad.toml: invalid TOML"):
        cfg.load(bad)
    with pytest.raises(ConfigError, match="no such config file"):
        cfg.load(tmp_path / "missing.toml")


def test_resume_may_change_budgets_but_not_the_search():
    saved = Config()
    more = cfg.apply_overrides(saved, ["search.max_evaluations=99999", "executor.workers=1"])
    assert resume_config(saved, more) == more
    other = cfg.apply_overrides(saved, ["evolution.population=10", "search.seed=3"])
    with pytest.raises(ConfigError, match="search.seed, evolution.population"):
        resume_config(saved, other)


def test_non_finite_numbers_are_refused_before_a_search_starts():
    # A search with an inf in its config ran 3 minutes, then its first checkpoint (strict
    # JSON) raised and the run was lost.
    with pytest.raises(cfg.ConfigError, match="funnel.factor: must be finite"):
        cfg.apply_overrides(cfg.Config(), ["funnel.factor=inf"])
    with pytest.raises(cfg.ConfigError, match="mutation.constant_sigma: must be finite"):
        cfg.apply_overrides(cfg.Config(), ["mutation.constant_sigma=nan"])
