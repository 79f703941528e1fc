"""Fixes from the hostile review of the command line (issue 13): results JSON cannot hold,
wrong result types, --json stdout, lock timeouts, secrets, nested params, params files."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from steprail.cli import app
from steprail.cli._app import ENVIRONMENT_VARIABLES
from steprail.jobs import JobStore

ACTIONS = "tests.cli._review_actions"
RETURNING = f"{ACTIONS}:ReturningAction"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STEPRAIL_HOME", str(tmp_path / "home"))
    for name in ENVIRONMENT_VARIABLES:
        if name != "STEPRAIL_HOME":
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("STEPRAIL_LOG_LEVEL", raising=False)
    monkeypatch.delenv("CI", raising=False)
    return tmp_path / "home"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def strict_json(text: str) -> object:
    """``json.loads`` that refuses NaN and Infinity, as RFC 8259 (and jq, JS, Go) do."""

    def refuse(name: str) -> object:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


# -- 1, 9, 16: results as the store records them ------------------------------------------------


def test_json_result_is_encoded_as_the_store_records_it(home: Path) -> None:
    result = invoke("run", RETURNING, "-p", "kind=rich", "--json")
    assert result.exit_code == 0, result.output
    data = strict_json(result.stdout)
    assert isinstance(data, dict)
    assert data["status"] == "success"
    with JobStore(home / "jobs.sqlite3", read_only=True) as store:
        recorded = store.get(int(data["job_id"])).summary
    assert data["result"] == recorded
    assert data["result"] == {
        "when": "2024-01-02T03:04:05",
        "price": "Decimal('1.10')",  # the store keeps what JSON cannot hold as its repr
        "ids": [7],
        "ratio": "nan",
        "big": "inf",
        "thing": "<opaque>",
        "word": "grün",
    }


def test_text_result_line_matches_the_record_and_keeps_non_ascii(home: Path) -> None:
    result = invoke("run", RETURNING, "-p", "kind=rich", "--plain")
    assert result.exit_code == 0, result.output
    line = next(line for line in result.stdout.splitlines() if line.startswith("result: "))
    assert '"word": "grün"' in line
    assert strict_json(line.removeprefix("result: "))["ratio"] == "nan"  # type: ignore[index]  # a dict


# -- 10: a wrong result type is named ------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("list", "ReturningAction.execute() returned list; return a dict of JSON values (or None)"),
        ("tuplekey", "result['a'] has the key (1, 2) (tuple); keys must be text"),
        ("cyclic", "result['self'] contains itself"),
    ],
)
def test_a_wrong_result_type_fails_the_job_naming_the_action(home: Path, kind: str, expected: str) -> None:
    result = invoke("run", RETURNING, "-p", f"kind={kind}", "--json")
    assert result.exit_code == 1, result.output
    data = strict_json(result.stdout)
    assert isinstance(data, dict)
    assert data["status"] == "failed"
    assert expected in str(data["error"])
    assert str(data["error"]).startswith("TypeError: ")
