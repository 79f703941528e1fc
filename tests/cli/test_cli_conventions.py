"""Command-line conventions: -p by field type, YAML params, --json, the result, --version,
python -m steprail, STEPRAIL_* variables, failures you can act on, tables that never wrap."""

from __future__ import annotations

import datetime
import enum
import json
import os
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field
from typer.testing import CliRunner, Result

from steprail.cli import app
from steprail.cli._app import ENVIRONMENT_VARIABLES
from steprail.cli import UsageProblem
from steprail.cli._demo import DemoSettings
from steprail.cli._params import field_reading, parse_assignment
from steprail.cli._render import traceback_origin
from steprail.jobs import JobStore
from steprail.jobs._failure import raised_at, shown_path

ACTIONS = "tests.cli._convention_actions"
ECHO = f"{ACTIONS}:EchoTypedAction"
RAISING = f"{ACTIONS}:RaisingAction"
ACTIONS_FILE = Path(__file__).with_name("_convention_actions.py")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STEPRAIL_HOME", str(tmp_path / "home"))
    for name in ENVIRONMENT_VARIABLES:
        if name != "STEPRAIL_HOME":
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("CI", raising=False)
    return tmp_path / "home"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def run_json(*args: str) -> dict[str, object]:
    result = invoke("run", *args, "--json")
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def echoed(*assignments: str) -> dict[str, object]:
    args = [arg for text in assignments for arg in ("-p", text)]
    data = run_json(ECHO, *args)
    assert data["status"] == "success", data
    result = data["result"]
    assert isinstance(result, dict)
    return result


# -- -p by the field's type ------------------------------------------------------------------


@pytest.mark.parametrize("text", ["2024", "true", "null", "3.5", "[1]", '"quoted"', "{}"])
def test_a_str_field_keeps_the_text_as_typed(home: Path, text: str) -> None:
    assert echoed(f"name={text}", f"note={text}")["name"] == text
    assert echoed(f"note={text}")["note"] == text  # str | None: still text, "null" included


def test_numbers_booleans_and_optional_values_take_json_scalars(home: Path) -> None:
    result = echoed("count=7", "ratio=null", "flag=true")
    assert (result["count"], result["ratio"], result["flag"]) == (7, None, True)
    assert echoed("ratio=0.25")["ratio"] == 0.25


def test_structured_fields_take_json_and_nested_keys_reach_the_submodel(home: Path) -> None:
    result = echoed('tags=["a", "2024"]', "inner.label=007", "inner.size=3")
    assert result["tags"] == ["a", "2024"]
    assert result["inner"] == {"label": "007", "size": 3}  # label is a str field: kept as text


def test_a_structured_field_given_no_json_says_how_to_write_it(home: Path) -> None:
    result = invoke("run", ECHO, "-p", "tags=[a, b]")
    assert result.exit_code == 2
    assert "the field 'tags' (list[str]) takes a JSON value" in result.stderr
    assert """-p 'tags=["a", "b"]'""" in result.stderr
    assert not (home / "jobs.sqlite3").exists()  # refused before any job was recorded


def test_a_number_field_given_text_is_refused_by_validation(home: Path) -> None:
    result = invoke("run", ECHO, "-p", "count=many")
    assert result.exit_code == 2
    assert "count: Input should be a valid integer" in result.stderr


# -- params files ----------------------------------------------------------------------------


def test_yaml_params_files_are_read_with_safe_load(home: Path, tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("name: ada\ncount: 2\ntags: [x, y]\ninner:\n  label: deep\n")
    result = run_json(ECHO, "--params", str(params), "-p", "count=3")
    assert result["result"] == {
        "name": "ada", "note": None, "count": 3, "ratio": None, "flag": False, "tags": ["x", "y"],
        "inner": {"label": "deep", "size": 0},
    }  # fmt: skip
    no_params = tmp_path / "none.yml"
    no_params.write_text("{}  # no params yet\n")
    assert run_json(ECHO, "-f", str(no_params))["status"] == "success"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: [unclosed\n", "is not valid YAML"),
        ("- a\n- b\n", "must hold a YAML mapping of names to values, not a list"),
        ("a: &x [1, 2]\nb: *x\n", "aliases (*name) are not allowed in params files"),
        ("a: &x [1]\nb: [*x, *x, *x]\n", "aliases (*name) are not allowed in params files"),
        ("1: one\n", "every top-level name must be text"),
        ("name: !!python/object:os.system ls\n", "is not allowed in params files"),
    ],
)
def test_bad_yaml_params_files_exit_2(home: Path, tmp_path: Path, text: str, message: str) -> None:
    params = tmp_path / "params.yaml"
    params.write_text(text)
    result = invoke("run", ECHO, "--params", str(params))
    assert result.exit_code == 2
    assert message in result.stderr
    assert not (home / "jobs.sqlite3").exists()


def test_a_params_file_that_is_not_json_names_the_formats(home: Path, tmp_path: Path) -> None:
    params = tmp_path / "params.conf"
    params.write_text("name: ada\n")
    result = invoke("run", ECHO, "--params", str(params))
    assert result.exit_code == 2
    assert "is not valid JSON" in result.stderr
    assert "params files are JSON, or TOML or YAML when named .toml, .yaml or .yml" in result.stderr


# -- output ----------------------------------------------------------------------------------


def test_run_prints_the_actions_result_after_the_table(home: Path) -> None:
    result = invoke("run", ECHO, "-p", "name=ada")
    assert result.exit_code == 0
    last = result.stdout.rstrip("\n").splitlines()[-1]
    assert last.startswith("result: {") and '"name": "ada"' in last


def test_run_json_is_the_only_thing_on_stdout(home: Path) -> None:
    result = invoke("run", ECHO, "-p", "name=ada", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert (data["job_id"], data["status"], data["exit_code"], data["error"]) == (1, "success", 0, None)
    assert [step["name"] for step in data["steps"]] == ["execute"]
    assert "job: " in result.stderr  # the live lines went to stderr


def test_plan_json(home: Path) -> None:
    result = invoke("plan", RAISING, "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "action": RAISING,
        "steps": [
            {"order": 0, "name": "first", "kind": "_FirstStep", "weight": 1.0, "share": 0.5, "can_roll_back": True},
            {"order": 1, "name": "lookup", "kind": "_LookupStep", "weight": 1.0, "share": 0.5, "can_roll_back": False},
        ],
        "flow": None,  # these steps declare no data flow (docs/data-flow.md)
    }


def test_tables_never_wrap_a_long_path_off_a_terminal(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "60")  # a narrow terminal size must not matter for a pipe
    deep = tmp_path / ("long-folder-name-" * 6) / "actions"
    deep.mkdir(parents=True)
    target = f"{deep / 'my_actions.py'}:EchoTypedAction"
    (deep / "my_actions.py").write_text(ACTIONS_FILE.read_text())
    ran = invoke("run", target)
    assert ran.exit_code == 0
    assert f"job 1: {target} - success" in ran.stdout  # the table's title, on one line
    result = invoke("jobs", "list")
    row = next(line for line in result.stdout.splitlines() if line.startswith("│") and line.split("│")[1].strip() == "1")
    assert target in row  # the action's path is whole, on the job's one row


# -- failures --------------------------------------------------------------------------------


def _lookup_line() -> int:
    lines = ACTIONS_FILE.read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if "return table[key]" in line)


def test_a_failure_names_the_exception_and_where_it_was_raised(home: Path) -> None:
    result = invoke("run", RAISING, "-p", "key=missing")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert "[2/2 lookup] failed in" in result.stdout and "KeyError: 'missing'" in result.stdout
    end = lines[lines.index("failed: Step 'lookup' failed: KeyError: 'missing'") :]
    assert end[1] == f"  raised at {shown_path(str(ACTIONS_FILE))}:{_lookup_line()}, in _find"
    assert end[2] == "  the traceback: steprail jobs show 1 --traceback (or run again with --traceback)"
    assert "Traceback (most recent call last)" not in result.stdout


def test_run_traceback_prints_it_as_the_job_fails(home: Path) -> None:
    result = invoke("run", RAISING, "-p", "key=missing", "-v")
    assert result.exit_code == 1
    out = result.stdout
    # Printed with the job's end line, before the table; the chain ends with the step's error.
    assert out.index("job failed in") < out.index("Traceback (most recent call last)") < out.index("┏")
    assert f'{ACTIONS_FILE}", line {_lookup_line()}, in _find' in out
    assert "steprail jobs show 1 --traceback" not in out


def test_the_job_record_keeps_the_traceback(home: Path) -> None:
    assert invoke("run", RAISING, "-p", "key=missing").exit_code == 1
    record = JobStore(home / "jobs.sqlite3", read_only=True).get(1)
    assert record.error == "Step 'lookup' failed: KeyError: 'missing'"
    assert record.traceback is not None and record.traceback.endswith("KeyError: 'missing'\n")
    assert [s.error for s in record.steps] == [None, "KeyError: 'missing'"]

    shown = invoke("jobs", "show", "1")
    assert f"  raised at {shown_path(str(ACTIONS_FILE))}:{_lookup_line()}, in _find" in shown.stdout
    assert "steprail jobs show 1 --traceback" in shown.stdout
    assert "Traceback (most recent" not in shown.stdout
    full = invoke("jobs", "show", "1", "--traceback")
    assert full.stdout.rstrip("\n").endswith(record.traceback.rstrip("\n"))
    assert json.loads(invoke("jobs", "show", "1", "--json").stdout)["traceback"] == record.traceback
    run = run_json(RAISING, "-p", "key=other")
    assert run["exception"] == {
        "type": "KeyError", "message": "'other'", "file": str(ACTIONS_FILE), "line": _lookup_line(), "function": "_find",
    }  # fmt: skip


def test_a_successful_job_shows_no_traceback(home: Path) -> None:
    assert invoke("run", ECHO).exit_code == 0
    result = invoke("jobs", "show", "1", "--traceback")
    assert "(no traceback recorded: no exception ended this job)" in result.stdout
    assert json.loads(invoke("jobs", "show", "1", "--json").stdout)["traceback"] is None


# -- version, completion, python -m, environment ---------------------------------------------


def test_raised_at_skips_the_standard_library_and_shows_paths_from_the_working_folder(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "renaming.py").write_text(
        "from pathlib import Path\n"
        "from pydantic import BaseModel\n"
        "from steprail.actions import BaseAction\n\n\n"
        "class P(BaseModel):\n"
        "    folder: str\n\n\n"
        "class Rename(BaseAction[P]):\n"
        "    def execute(self) -> dict[str, str]:\n"
        "        Path(self.params.folder, 'missing').rename(Path(self.params.folder, 'other'))\n"
        "        return {}\n"
    )
    monkeypatch.chdir(folder)
    result = invoke("run", "renaming.py:Rename", "-p", f"folder={folder}")
    assert result.exit_code == 1
    # pathlib raised it; the line shown is the action's own call, relative to the working folder.
    assert "  raised at renaming.py:12, in execute" in result.stdout.splitlines()
    record = JobStore(home / "jobs.sqlite3", read_only=True).get(1)
    assert record.traceback is not None and 'pathlib.py", line' in record.traceback
    assert "  raised at renaming.py:12, in execute" in invoke("jobs", "show", "1").stdout.splitlines()


def test_version() -> None:
    import steprail

    result = invoke("--version")
    assert (result.exit_code, result.stdout) == (0, f"steprail {steprail.__version__}\n")


def test_shell_completion_is_offered() -> None:
    result = invoke("--show-completion", "bash")
    assert result.exit_code == 0
    assert "_STEPRAIL_COMPLETE" in result.stdout and "complete " in result.stdout


def test_python_dash_m_steprail_is_the_command(tmp_path: Path) -> None:
    env = {**os.environ, "STEPRAIL_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "steprail", "run", ECHO, "-p", "name=2024", "--json"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["result"]["name"] == "2024"
    version = subprocess.run([sys.executable, "-m", "steprail", "--version"], capture_output=True, text=True, timeout=60)
    assert version.stdout.startswith("steprail ")


def test_steprail_variables_stand_for_the_options(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "elsewhere.sqlite3"
    log = tmp_path / "events.jsonl"
    monkeypatch.setenv("STEPRAIL_STORE", str(store))
    monkeypatch.setenv("STEPRAIL_JSON_LOG", str(log))
    monkeypatch.setenv("STEPRAIL_TRACEBACK", "1")
    result = invoke("run", RAISING)
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.stdout
    assert store.exists() and not (home / "jobs.sqlite3").exists()
    assert '"type": "job_finished"' in log.read_text()
    assert "failed" in invoke("jobs", "list").stdout  # jobs list reads STEPRAIL_STORE too


def test_a_bad_steprail_variable_exits_2_naming_it(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEPRAIL_LOCK_TIMEOUT", "soon")
    result = invoke("run", ECHO)
    assert result.exit_code == 2
    assert "Invalid value for '--lock-timeout' (env var: 'STEPRAIL_LOCK_TIMEOUT')" in result.output


def test_every_documented_variable_is_in_the_help_or_the_docs() -> None:
    docs = (ROOT / "docs" / "cli.md").read_text()
    for name, option in ENVIRONMENT_VARIABLES.items():
        assert f"`{name}`" in docs and option in docs
    assert "`STEPRAIL_LOG_LEVEL`" in docs


def test_demo_option_defaults_are_the_demo_settings() -> None:
    result = invoke("demo", "--help")
    text = " ".join(result.stdout.split())
    for option, value in (("--items", DemoSettings.items), ("--clusters", DemoSettings.clusters),
                          ("--iterations", DemoSettings.iterations), ("--seed", DemoSettings.seed)):  # fmt: skip
        after = text[text.index(option) :]
        assert f"[default: {value}" in after[: after.index(" --", 2)]


def test_steprail_log_level_shows_the_library_records_on_stderr(tmp_path: Path) -> None:
    env = {**os.environ, "STEPRAIL_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT), "STEPRAIL_LOG_LEVEL": "info"}
    done = subprocess.run(
        [sys.executable, "-m", "steprail", "run", RAISING, "--json"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    records = [line.split(" ", 2)[2] for line in done.stderr.splitlines() if " steprail." in line]
    assert "INFO steprail.jobs.store: job store" in records[0]
    # The records that would repeat a live line are left out: the failure shows in the live
    # lines alone (the step's line and the job's end), not again as WARNING and ERROR records.
    assert not any("KeyError" in record for record in records), records
    assert [line for line in done.stderr.splitlines() if "KeyError: 'a'" in line and " steprail." not in line]
    assert json.loads(done.stdout)["status"] == "failed"  # stdout stays JSON
    env["STEPRAIL_LOG_LEVEL"] = "loud"
    bad = subprocess.run([sys.executable, "-m", "steprail", "--help"], capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 2 and "$STEPRAIL_LOG_LEVEL is 'loud'" in bad.stderr


class _Color(enum.Enum):
    RED = "red"


class _Level(enum.IntEnum):
    LOW = 1


class _Kinds(BaseModel):
    path: Path = Path(".")
    day: datetime.date = datetime.date(2024, 1, 1)
    color: _Color = _Color.RED
    level: _Level = _Level.LOW
    mode: Literal["fast", "slow"] = "fast"
    digits: Literal[1, 2] = 1
    pair: tuple[int, int] = (0, 0)
    mapping: dict[str, int] = Field(default_factory=dict)
    either: str | list[str] = ""
    maybe: Annotated[int | None, Field(ge=0)] = None


@pytest.mark.parametrize(
    ("key", "reading"),
    [
        ("path", "text"), ("day", "text"), ("color", "text"), ("mode", "text"),
        ("level", "auto"), ("digits", "auto"), ("maybe", "auto"), ("unknown", "auto"), ("mapping.k", "auto"),
        ("pair", "json"), ("mapping", "json"), ("either", "mixed"),
    ],
)  # fmt: skip
def test_each_kind_of_field_is_read_its_own_way(key: str, reading: str) -> None:
    assert field_reading(_Kinds, key.split("."))[0] == reading


def test_a_mixed_field_takes_json_only_when_it_looks_structured() -> None:
    assert parse_assignment("either=plain", _Kinds) == (["either"], "plain")
    assert parse_assignment('either=["a"]', _Kinds) == (["either"], ["a"])
    with pytest.raises(UsageProblem, match="takes a JSON value"):
        parse_assignment("either=[a", _Kinds)


def test_where_a_chained_exception_was_raised_is_read_back_from_its_traceback(tmp_path: Path) -> None:
    def inner() -> None:
        raise ValueError("low")

    def outer() -> None:
        try:
            inner()
        except ValueError as error:
            raise KeyError("high") from error

    try:
        outer()
    except KeyError as error:
        text = "".join(traceback.format_exception(error))
        where = raised_at(error)
    assert where is not None and where.function == "outer"
    # The chain prints the cause (raised in inner) first: the origin is the last exception's.
    assert traceback_origin(text) == str(where)
