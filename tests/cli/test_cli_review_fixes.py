"""Fixes from the hostile review of the command line (issue 13): results JSON cannot hold,
wrong result types, --json stdout, lock timeouts, secrets, nested params, params files."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
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
    recorded = strict_json(line.removeprefix("result: "))
    assert isinstance(recorded, dict) and recorded["ratio"] == "nan"


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


# -- 2, 3: --lock-timeout bounds every wait ------------------------------------------------------


def _hold_lock(store: Path) -> subprocess.Popen[str]:
    from tests.cli._review_actions import HOLD_LOCK

    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(store), "60"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_lock_timeout_bounds_creating_the_job_and_json_gets_an_error_object(home: Path) -> None:
    assert invoke("run", RETURNING, "--json").exit_code == 0  # the store exists (WAL)
    holder = _hold_lock(home / "jobs.sqlite3")
    try:
        started = time.monotonic()
        result = invoke("run", RETURNING, "--lock-timeout", "0.3", "--json")
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 2, result.output
    assert waited < 15, waited  # the store's 60 s write timeout no longer applies
    data = strict_json(result.stdout)
    assert isinstance(data, dict)
    assert data["status"] == "error" and data["exit_code"] == 2 and data["job_id"] is None
    assert "locked by another process (waited 0.3s)" in str(data["error"])
    assert "error: job store" in result.stderr
    with JobStore(home / "jobs.sqlite3", read_only=True) as store:
        assert len(store.list_jobs()) == 1  # nothing recorded


def test_lock_timeout_bounds_each_write_of_a_running_job(home: Path, tmp_path: Path) -> None:
    assert invoke("run", RETURNING, "--json").exit_code == 0
    pid_file = tmp_path / "holder.pid"
    store = home / "jobs.sqlite3"
    started = time.monotonic()
    try:
        result = invoke(
            "run", f"{ACTIONS}:LockingAction", "-p", f"store={store}", "-p", f"pid_file={pid_file}",
            "--lock-timeout", "0.3", "--json",
        )
    finally:
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
    waited = time.monotonic() - started
    assert result.exit_code == 3, result.output
    assert waited < 20, waited
    data = strict_json(result.stdout)
    assert isinstance(data, dict)
    assert "locked by another process (waited 0.3s)" in str(data["error"])


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-5", "1e300"])
def test_a_lock_timeout_sqlite_cannot_wait_for_is_bad_input(home: Path, value: str) -> None:
    result = invoke("run", RETURNING, f"--lock-timeout={value}")
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--lock-timeout'" in result.output
    assert "is not a number of seconds from 0 to" in result.output


def test_a_bad_lock_timeout_variable_is_named(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEPRAIL_LOCK_TIMEOUT", "nan")
    result = invoke("run", RETURNING)
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--lock-timeout' (env var: 'STEPRAIL_LOCK_TIMEOUT')" in result.output


# -- 5: --json stdout holds the JSON alone, and always some ------------------------------------


def test_a_step_print_goes_to_stderr_under_json(home: Path) -> None:
    result = invoke("run", RETURNING, "-p", "kind=print", "--json")
    assert result.exit_code == 0, result.output
    assert strict_json(result.stdout) is not None  # stdout is the JSON alone
    assert "chatter from a step" in result.stderr


def test_a_step_print_stays_on_stdout_without_json(home: Path) -> None:
    result = invoke("run", RETURNING, "-p", "kind=print", "--plain")
    assert "chatter from a step" in result.stdout


def test_invalid_params_under_json_print_the_recorded_job(home: Path) -> None:
    result = invoke("run", RETURNING, "-p", "kidn=x", "--json")
    assert result.exit_code == 2, result.output
    data = strict_json(result.stdout)
    assert isinstance(data, dict)
    assert data["status"] == "failed" and data["exit_code"] == 2
    assert isinstance(data["job_id"], int)
    assert "did you mean 'kind'" in str(data["error"])
    assert f"(recorded as failed job {data['job_id']})" in result.stderr


def test_other_bad_input_under_json_prints_an_error_object(home: Path) -> None:
    result = invoke("run", f"{ACTIONS}:NoSuchAction", "--json")
    assert result.exit_code == 2
    data = strict_json(result.stdout)
    assert isinstance(data, dict)
    assert data == {"job_id": None, "status": "error", "exit_code": 2, "error": data["error"]}
    assert "NoSuchAction" in str(data["error"])


# -- 7: secrets never appear in plain text ------------------------------------------------------


@pytest.mark.parametrize("extra", [[], ["-p", "lable=typo"]])
def test_a_secret_param_is_masked_in_every_record(
    home: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, extra: list[str]
) -> None:
    log_file = tmp_path / "events.jsonl"
    with caplog.at_level(logging.DEBUG, logger="steprail"):
        result = invoke(
            "run", f"{ACTIONS}:SecretAction", "-p", "token=hunter2", *extra, "--json-log", str(log_file), "--json"
        )
    assert result.exit_code == (2 if extra else 1), result.output
    assert "hunter2" not in result.stdout + result.stderr
    assert "hunter2" not in log_file.read_text()
    created = [json.loads(line) for line in log_file.read_text().splitlines() if '"job_created"' in line]
    assert created and created[0]["params"]["token"] == "**********"
    for record in caplog.records:
        assert "hunter2" not in repr(vars(record)), record
    with JobStore(home / "jobs.sqlite3", read_only=True) as store:
        (job,) = store.list_jobs()
        assert job.params["token"] == "**********"
        assert "hunter2" not in json.dumps(job_json_of(store, job.id))


def job_json_of(store: JobStore, job_id: int) -> object:
    from steprail.cli._app import job_json

    return {"job": job_json(store.get(job_id)), "logs": [event.data for event in store.logs(job_id)]}


def test_masked_params_reach_into_nested_models() -> None:
    from pydantic import BaseModel, SecretStr

    from steprail.jobs._secrets import masked_params

    class Credentials(BaseModel):
        password: SecretStr | None = None
        user: str = ""

    class Params(BaseModel):
        login: Credentials = Credentials()
        keys: list[SecretStr] = []

    raw = {"login": {"password": "pw", "user": "me"}, "keys": ["k1"], "other": 1}
    assert masked_params(Params, raw) == {
        "login": {"password": "**********", "user": "me"},
        "keys": "**********",
        "other": 1,
    }


# -- 6: typos in nested keys ---------------------------------------------------------------------


def test_a_typo_in_a_nested_key_is_refused_with_a_suggestion(home: Path) -> None:
    result = invoke("run", f"{ACTIONS}:NestedAction", "-p", "inner.sise=3")
    assert result.exit_code == 2, result.output
    assert "the params have an unknown key 'inner.sise'; did you mean 'inner.size'?" in result.stderr
    assert not (home / "jobs.sqlite3").exists()  # refused before anything was recorded


def test_a_typo_in_a_nested_key_of_a_params_file_is_refused(home: Path, tmp_path: Path) -> None:
    params = tmp_path / "params.json"
    params.write_text('{"inner": {"sise": 3}}')
    result = invoke("plan", f"{ACTIONS}:NestedAction", "--params", str(params))
    assert result.exit_code == 2, result.output
    assert "unknown key 'inner.sise'; did you mean 'inner.size'?" in result.stderr


def test_known_nested_keys_still_work(home: Path) -> None:
    result = invoke("run", f"{ACTIONS}:NestedAction", "-p", "inner.size=3", "--json")
    assert result.exit_code == 0, result.output
    data = strict_json(result.stdout)
    assert isinstance(data, dict) and data["result"]["inner"] == {"size": 3}


# -- 8: params files hold JSON's values, each key once --------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("p.json", '{"kind": "a", "kind": "b"}', "gives the key 'kind' twice in one object; keep one"),
        ("p.json", '{"x": {"a": 1, "a": 2}}', "gives the key 'a' twice in one object; keep one"),
        ("p.yaml", "kind: a\nkind: b\n", "the key 'kind' is given twice (first on line 1); keep one"),
        ("p.yaml", "", "holds no YAML mapping (it is empty, or only null); write {} for no params"),
        ("p.yaml", "# only a comment\n", "holds no YAML mapping"),
        ("p.json", "", "is not valid JSON"),
        ("p.yaml", "kind: &a foo\nother: *a\n", "aliases (*name) are not allowed in params files"),
        ("p.yaml", "kind: !!binary aGVsbG8=\n", "the tag 'tag:yaml.org,2002:binary' is not allowed"),
        ("p.yaml", "kind: !!timestamp 2024-01-01\n", "the tag 'tag:yaml.org,2002:timestamp' is not allowed"),
        ("p.yaml", "kind: !!set {a, b}\n", "the tag 'tag:yaml.org,2002:set' is not allowed"),
    ],
)
def test_params_files_refuse_duplicates_emptiness_aliases_and_tags(
    home: Path, tmp_path: Path, name: str, text: str, message: str
) -> None:
    params = tmp_path / name
    params.write_text(text)
    result = invoke("run", RETURNING, "--params", str(params))
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert not (home / "jobs.sqlite3").exists()


def test_a_duplicate_key_in_a_p_json_value_is_refused(home: Path) -> None:
    result = invoke("run", f"{ACTIONS}:NestedAction", "-p", 'inner={"size": 1, "size": 2}')
    assert result.exit_code == 2, result.output
    assert "gives the key 'size' twice" in result.stderr


def test_yaml_scalars_follow_the_yaml_1_2_core_schema(tmp_path: Path) -> None:
    from steprail.cli._params import read_params_file

    params = tmp_path / "p.yaml"
    params.write_text(
        "octal_looking: 012\nword: yes\nswitch: off\nday: 2024-01-01\nbool: true\nnothing: ~\n"
        "octal: 0o17\nhex: 0x1F\nnegative: -3\nexp: 1e3\nquoted: '012'\n"
    )
    assert read_params_file(params) == {
        "octal_looking": 12,  # YAML 1.1 would read the octal 10
        "word": "yes",  # 1.1: True
        "switch": "off",  # 1.1: False
        "day": "2024-01-01",  # 1.1: a datetime.date
        "bool": True,
        "nothing": None,
        "octal": 15,
        "hex": 31,
        "negative": -3,
        "exp": 1000.0,
        "quoted": "012",
    }


# -- 11: a schema-1 store kept no tracebacks -----------------------------------------------------


def test_jobs_show_traceback_on_a_schema_1_store_says_it_kept_none(home: Path, tmp_path: Path) -> None:
    import shutil

    old = tmp_path / "old.sqlite3"
    shutil.copyfile(Path(__file__).resolve().parents[1] / "data" / "jobs-schema-1.sqlite3", old)
    result = invoke("jobs", "show", "2", "--store", str(old), "--traceback")
    assert result.exit_code == 0, result.output
    assert (
        "(no traceback: this job store is of schema version 1, older than version 2, the first to keep tracebacks)"
        in result.stdout
    )
    with JobStore(old, read_only=True) as store:
        assert store.schema_version == 1


# -- 12: huge messages and ANSI escapes ------------------------------------------------------------


def test_a_huge_message_is_cut_on_the_terminal_and_capped_in_the_record(home: Path) -> None:
    from steprail.jobs._store import MAX_ERROR_CHARS

    result = invoke("run", RETURNING, "-p", "kind=fail-huge", "--plain")
    assert result.exit_code == 1, result.output
    assert len(result.stdout) + len(result.stderr) < 20_000  # not the 200 000 characters, three times
    assert "more characters in the job record: steprail jobs show ID" in result.stdout
    with JobStore(home / "jobs.sqlite3", read_only=True) as store:
        job = store.get(1)
    assert job.error is not None and job.traceback is not None
    for text in (job.error, job.traceback, job.steps[0].error or ""):
        assert len(text) <= MAX_ERROR_CHARS + 100
        assert "characters left out" in text
    assert job.traceback.rstrip().endswith("x")  # the end of a traceback (the exception) is kept


def test_ansi_escapes_in_a_message_are_neutralised_on_the_terminal(home: Path) -> None:
    result = invoke("run", RETURNING, "-p", "kind=fail-ansi", "--plain", "--traceback")
    assert result.exit_code == 1, result.output
    assert "\x1b" not in result.stdout + result.stderr
    assert "failed: RuntimeError: \\x1b[31mred\\x1b[0m and\n  second line" in result.stdout
    shown = invoke("jobs", "show", "1", "--traceback")
    assert "\x1b" not in shown.stdout and "\\x1b[31mred" in shown.stdout
    with JobStore(home / "jobs.sqlite3", read_only=True) as store:
        assert "\x1b[31mred" in (store.get(1).error or "")  # the record keeps the text as raised


# -- 16: STEPRAIL_LOG_LEVEL does not repeat the live lines ------------------------------------------


def test_log_level_info_does_not_repeat_a_failure_the_live_lines_show(tmp_path: Path) -> None:
    env = {**os.environ, "STEPRAIL_HOME": str(tmp_path / "home"), "STEPRAIL_LOG_LEVEL": "INFO"}
    for name in ("STEPRAIL_STORE", "STEPRAIL_JSON_LOG", "STEPRAIL_TRACEBACK", "STEPRAIL_LOCK_TIMEOUT"):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "-m", "steprail", "run", RETURNING, "-p", "kind=fail-ansi", "--plain"],
        capture_output=True, text=True, timeout=120, check=False,
        cwd=Path(__file__).resolve().parents[2], env=env,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "INFO steprail.jobs.store: job store" in result.stderr  # the library's own records still show
    assert "red" not in result.stderr, result.stderr  # the failure is in the live lines (stdout) only
    assert "\x1b" not in result.stdout + result.stderr
    assert result.stdout.count("RuntimeError: ") == 3  # the step's line, the job's end, under the table


def test_log_records_on_stderr_are_safe_on_a_terminal() -> None:
    from steprail.cli._logs import TerminalFormatter

    record = logging.LogRecord("steprail.x", logging.INFO, __file__, 1, "got %s", ("\x1b]0;title\x07" + "y" * 5000,), None)
    line = TerminalFormatter("%(message)s").format(record)
    assert "\x1b" not in line and "\x07" not in line and line.startswith("got \\x1b]0;title\\x07yyy")
    assert len(line) < 2200


def test_json_output_caps_a_huge_message_as_the_record_does(home: Path) -> None:
    from steprail.jobs._store import MAX_ERROR_CHARS

    result = invoke("run", RETURNING, "-p", "kind=fail-huge", "--json")
    data = strict_json(result.stdout)
    assert isinstance(data, dict)
    with JobStore(home / "jobs.sqlite3", read_only=True) as store:
        job = store.get(int(data["job_id"]))
    assert data["error"] == job.error and data["traceback"] == job.traceback
    assert len(str(data["exception"]["message"])) <= MAX_ERROR_CHARS + 100


# -- 15: -p values pydantic's lax mode would misread ------------------------------------------------


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("count=true", "-p 'count=true': the field 'count' (int) takes a number, not true"),
        ("ratio=false", "-p 'ratio=false': the field 'ratio' (float) takes a number, not false"),
        ("inner.size=true", "the field 'inner.size' (int) takes a number, not true"),
        ("path=", "-p 'path=': the field 'path' (pathlib.Path | None) needs a path, not an empty value; pass . for"),
    ],
)
def test_a_boolean_for_a_number_or_an_empty_path_is_refused(home: Path, assignment: str, message: str) -> None:
    result = invoke("run", f"{ACTIONS}:NestedAction", "-p", assignment)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert not (home / "jobs.sqlite3").exists()


def test_numbers_and_paths_still_read(home: Path) -> None:
    result = invoke("run", f"{ACTIONS}:NestedAction", "-p", "count=3", "-p", "ratio=0.5", "-p", "path=.", "--json")
    assert result.exit_code == 0, result.output
    data = strict_json(result.stdout)
    assert isinstance(data, dict)
    assert (data["result"]["count"], data["result"]["ratio"], data["result"]["path"]) == (3, 0.5, ".")


# -- 14: completion for a named shell --------------------------------------------------------------


@pytest.mark.parametrize("option", ["--install-completion", "--show-completion"])
def test_a_shell_name_after_a_completion_option_is_refused_not_ignored(tmp_path: Path, option: str) -> None:
    env = {**os.environ, "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "steprail", option, "zsh"], capture_output=True, text=True, timeout=60, check=False, env=env
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert f"error: {option} takes no shell name" in result.stderr
    assert f"zsh -c 'steprail {option}'" in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing installed for another shell


# -- 13: a cancelled job shows no exception of its own ------------------------------------------------


def test_a_job_cancelled_by_sigterm_has_no_exception_in_json(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "STEPRAIL_HOME": str(home)}
    env.pop("STEPRAIL_STORE", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "steprail", "run", RETURNING, "-p", "kind=slow", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not (home / "started").exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    data = strict_json(out)
    assert isinstance(data, dict)
    assert data["status"] == "cancelled" and data["error"] == "cancelled by SIGTERM"
    assert data["exception"] is None and data["traceback"] is None
