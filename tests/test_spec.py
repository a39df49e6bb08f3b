"""The assignment spec is read once, validated, and decides every number."""

from pathlib import Path

import pytest

from grader.spec import SECRET_ENV, SpecError, load_spec, resolve_seed


def test_bundled_spec_loads_with_one_hundred_automatic_points():
    spec = load_spec()
    assert spec.auto_max == 100
    assert spec.max_score == 130
    assert {c.question for c in spec.checks} == {"general", "Q1", "Q2", "Q3", "Q4", "Q5", "Q6"}
    assert spec.data.motif == "ACGTG" and spec.data.seq_len == 101


def test_every_question_has_a_manual_answer_check():
    spec = load_spec()
    manual = {c.question for c in spec.checks if c.kind == "manual"}
    assert manual == {"Q1", "Q2", "Q3", "Q4", "Q5", "Q6"}


def test_spec_with_unknown_field_is_rejected_with_its_location(tmp_path: Path):
    text = load_spec().model_dump()
    bad = tmp_path / "bad.toml"
    original = Path("grader/assignments/deepbind_motif.toml").read_text()
    bad.write_text(original.replace("[limits]", "[limits]\ncell_timout_s = 5"))
    with pytest.raises(SpecError, match=r"limits\.cell_timout_s"):
        load_spec(bad)
    assert text["limits"]["cell_timeout_s"] > 0


def test_spec_that_is_not_toml_gives_a_clear_error(tmp_path: Path):
    bad = tmp_path / "broken.toml"
    bad.write_text("[assignment\nid = ")
    with pytest.raises(SpecError, match="not valid TOML"):
        load_spec(bad)


def test_missing_spec_file_is_reported(tmp_path: Path):
    with pytest.raises(SpecError, match="does not exist"):
        load_spec(tmp_path / "nope.toml")


def test_inconsistent_thresholds_are_rejected(tmp_path: Path):
    original = Path("grader/assignments/deepbind_motif.toml").read_text()
    bad = tmp_path / "thresholds.toml"
    bad.write_text(original.replace("auc_zero_fraction = 0.80", "auc_zero_fraction = 0.99"))
    with pytest.raises(SpecError, match="auc_zero_fraction"):
        load_spec(bad)


def test_without_a_secret_the_development_seed_is_used_and_named():
    spec = load_spec()
    seed = resolve_seed(spec, None, env={})
    assert seed.kind == "development"
    assert seed.material == str(spec.assignment.development_seed)


def test_secret_file_and_environment_give_different_hidden_seeds(tmp_path: Path):
    spec = load_spec()
    secret = tmp_path / "secret.txt"
    secret.write_text("correct horse battery staple\n")
    from_file = resolve_seed(spec, secret, env={})
    from_env = resolve_seed(spec, None, env={SECRET_ENV: "another secret"})
    assert from_file.kind == from_env.kind == "secret"
    assert from_file.derive("main") != from_env.derive("main")
    assert from_file.derive("main") != from_file.derive("multi")
    assert from_file.derive("main") == resolve_seed(spec, secret, env={}).derive("main")


def test_empty_secret_file_is_an_error(tmp_path: Path):
    secret = tmp_path / "secret.txt"
    secret.write_text("  \n")
    with pytest.raises(SpecError, match="empty"):
        resolve_seed(load_spec(), secret, env={})
