"""Configuration (SPEC §3): harness.toml or [tool.harness]; every key defaulted, unknown keys are errors."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from harness.config import Config, default_toml, load_config
from harness.errors import UsageError


def write(repo: Path, name: str, text: str) -> Path:
    path = repo / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(repo: Path) -> UsageError:
    with pytest.raises(UsageError) as info:
        load_config(repo)
    assert info.value.hint
    assert info.value.exit_code == 2
    return info.value


def test_a_repo_without_configuration_gets_the_defaults(tmp_path):
    config = load_config(tmp_path)
    assert config == Config()
    assert config.source is None
    assert config.harness_dir == ".harness"
    assert config.test_command == ["python", "-m", "pytest"]
    assert config.limits.contract_rounds == 3
    assert config.limits.red_attempts == 5
    assert config.limits.green_attempts == 5
    assert config.limits.evaluator_rounds == 3
    assert config.budget.max_cost_per_issue == 10.0
    assert "harness.toml" in config.protected_paths


def test_harness_toml_is_read(tmp_path):
    path = write(
        tmp_path,
        "harness.toml",
        'test_command = ["uv", "run", "pytest"]\n'
        "test_timeout = 60\n\n"
        '[models]\ngenerator = "claude-haiku-4-5"\n\n'
        "[limits]\nred_attempts = 2\n\n"
        "[budget]\nmax_cost_per_issue = 2.5\n",
    )
    config = load_config(tmp_path)
    assert config.test_command == ["uv", "run", "pytest"]
    assert config.test_timeout == 60.0
    assert config.models.generator == "claude-haiku-4-5"
    assert config.models.planner == Config().models.planner  # the rest of the section keeps its defaults
    assert config.limits.red_attempts == 2
    assert config.limits.green_attempts == 5
    assert config.budget.max_cost_per_issue == 2.5
    assert config.source == str(path)


def test_tool_harness_in_pyproject_is_read(tmp_path):
    path = write(
        tmp_path,
        "pyproject.toml",
        '[project]\nname = "x"\n\n[tool.harness]\nharness_dir = ".agents"\n\n[tool.harness.limits]\nmax_turns = 9\n',
    )
    config = load_config(tmp_path)
    assert config.harness_dir == ".agents"
    assert config.limits.max_turns == 9
    assert config.source == str(path)


def test_a_pyproject_without_a_harness_section_means_defaults(tmp_path):
    write(tmp_path, "pyproject.toml", '[project]\nname = "x"\n\n[tool.ruff]\nline-length = 99\n')
    config = load_config(tmp_path)
    assert config == Config()
    assert config.source is None


def test_harness_toml_takes_precedence_over_pyproject(tmp_path):
    write(tmp_path, "pyproject.toml", '[tool.harness]\nharness_dir = ".from-pyproject"\n')
    toml = write(tmp_path, "harness.toml", 'harness_dir = ".from-harness-toml"\n')
    config = load_config(tmp_path)
    assert config.harness_dir == ".from-harness-toml"
    assert config.source == str(toml)


@pytest.mark.parametrize("name", ["harness.toml", "pyproject.toml"])
def test_invalid_toml_is_an_error_naming_the_file(tmp_path, name):
    path = write(tmp_path, name, "[tool.harness\nharness_dir = 1\n")
    err = config_error(tmp_path)
    assert err.message.startswith(f"{path}: invalid TOML")
    assert "line 1" in err.message


def test_an_unknown_key_is_an_error_naming_it(tmp_path):
    write(tmp_path, "harness.toml", "[limits]\nred_attempt = 3\n")
    err = config_error(tmp_path)
    assert "harness.toml" in err.message
    assert "`limits.red_attempt` is not a known field" in err.message


def test_an_unknown_key_in_pyproject_names_the_section(tmp_path):
    write(tmp_path, "pyproject.toml", "[tool.harness]\nmax_cost = 5\n")
    err = config_error(tmp_path)
    assert "pyproject.toml [tool.harness]" in err.message
    assert "`max_cost` is not a known field" in err.message


@pytest.mark.parametrize(
    ("toml", "field"),
    [
        ('test_command = "pytest"\n', "test_command"),
        ("test_command = []\n", "test_command"),
        ("test_timeout = -1\n", "test_timeout"),
        ("test_timeout = 0\n", "test_timeout"),
        ('test_timeout = "soon"\n', "test_timeout"),
        ("[limits]\nred_attempts = 0\n", "limits.red_attempts"),
        ("[limits]\nstuck_after = 1\n", "limits.stuck_after"),
        ("[limits]\nmax_turns = 2.5\n", "limits.max_turns"),
        ("[budget]\nmax_cost_per_issue = -3.0\n", "budget.max_cost_per_issue"),
        ('models = "claude"\n', "models"),
    ],
)
def test_a_wrong_type_or_out_of_range_value_is_an_error_naming_the_field(tmp_path, toml, field):
    write(tmp_path, "harness.toml", toml)
    err = config_error(tmp_path)
    assert f"field `{field}`" in err.message
    assert "harness.toml" in err.message


def test_default_toml_parses_back_to_the_defaults():
    text = default_toml(["python", "-m", "pytest"])
    assert Config.model_validate(tomllib.loads(text)) == Config()


def test_default_toml_spells_out_every_key():
    data = tomllib.loads(default_toml(["python", "-m", "pytest"]))
    expected = set(Config.model_fields) - {"source", "models", "limits", "budget"}
    assert set(data) - {"models", "limits", "budget"} == expected
    assert set(data["limits"]) == set(Config().limits.model_dump())
    assert set(data["models"]) == set(Config().models.model_dump())
    assert set(data["budget"]) == set(Config().budget.model_dump())


def test_default_toml_carries_the_detected_test_command(tmp_path):
    command = ["/repo/.venv/bin/python", "-m", "pytest"]
    write(tmp_path, "harness.toml", default_toml(command))
    config = load_config(tmp_path)
    assert config.test_command == command
    assert config.model_copy(update={"test_command": Config().test_command, "source": None}) == Config()


@pytest.mark.parametrize("python", [r"C:\repo\.venv\Scripts\python.exe", '/home/me/my "repo"/.venv/bin/python'])
def test_default_toml_escapes_the_test_command(python):
    data = tomllib.loads(default_toml([python, "-m", "pytest"]))
    assert data["test_command"] == [python, "-m", "pytest"]
