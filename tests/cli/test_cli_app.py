"""The command line in process (typer's CliRunner): run, plan, jobs, demo, bad input."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from steprail.cli import app
from steprail.cli._params import collect_params
from steprail.datasets import LocalBackend
from steprail.cli._render import shown_step_status
from steprail.jobs import JobStore, PlannedStep

ACTIONS = "tests.cli._sample_actions"
ACTIONS_FILE = str(Path(__file__).with_name("_sample_actions.py"))


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def store_of(home: Path) -> JobStore:
    return JobStore(home / "jobs.sqlite3")


def test_run_success_prints_the_step_table_and_records_the_job(home: Path, tmp_path: Path) -> None:
    result = invoke("run", f"{ACTIONS}:FileStepsAction", "-p", f"folder={tmp_path}")
    assert result.exit_code == 0, result.output
    assert "job 1:" in result.output and "success" in result.output
    for name, weight in (("make_marker", "20%"), ("wait", "60%"), ("maybe_fail", "20%")):
        line = next(line for line in result.output.splitlines() if f" {name} " in line and "│" in line)
        assert "success" in line and weight in line
    assert (tmp_path / "marker.txt").exists()
    record = store_of(home).get(1)
    assert record.status == "success" and record.params["folder"] == str(tmp_path)


def test_run_execute_action_from_a_file_path_with_a_params_file(home: Path, tmp_path: Path) -> None:
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"name": "ada", "count": 1}))
    result = invoke("run", f"{ACTIONS_FILE}:EchoAction", "--params", str(params), "-p", "count=2", "-p", 'tags=["x"]')
    assert result.exit_code == 0, result.output
    record = store_of(home).get(1)
    assert record.summary == {"greeting": "hello ada hello ada", "tags": ["x"]}
    assert record.action == f"{ACTIONS_FILE}:EchoAction"  # named by its file, not a private module


def test_run_failure_exits_1_after_rollback(home: Path, tmp_path: Path) -> None:
    result = invoke("run", f"{ACTIONS}:FileStepsAction", "-p", f"folder={tmp_path}", "-p", "fail=true")
    assert result.exit_code == 1, result.output
    assert "Step 'maybe_fail' failed: RuntimeError: asked to fail" in result.output
    assert not (tmp_path / "marker.txt").exists()
    assert (tmp_path / "rolled_back.txt").read_text() == "make_marker\n"
    record = store_of(home).get(1)
    assert record.status == "failed"
    assert [s.rolled_back for s in record.steps] == [True, True, False]


def test_invalid_params_exit_2_list_every_field_and_are_recorded(home: Path) -> None:
    result = invoke("run", f"{ACTIONS}:EchoAction", "-p", "count=0", "-p", "tags=7")
    assert result.exit_code == 2
    assert "invalid params" in result.output and "3 problems" in result.output
    for field in ("name: Field required", "count: Input should be greater than or equal to 1", "tags: Input should be a valid list"):
        assert field in result.output
    assert "recorded as failed job 1" in result.output
    record = store_of(home).get(1)
    assert record.status == "failed" and record.steps == []


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("no_colon_here", "expected MODULE:ACTION"),
        ("steprail_no_such_module:X", "cannot import module 'steprail_no_such_module'"),
        (f"{ACTIONS}:Missing", "has no attribute 'Missing'; actions in it: EchoAction, FileStepsAction"),
        (f"{ACTIONS}:NOT_AN_ACTION", "is an int, not a steprail action"),
        (f"{ACTIONS}:time", "is a module, not a steprail action"),
        ("steprail:BaseStep", "'steprail:BaseStep' is a class that does not subclass steprail.actions.BaseAction"),
        (f"{ACTIONS}:EchoParams", "is a class that does not subclass steprail.actions.BaseAction"),
        # Generic bases have no params model of their own: refused before any job is recorded.
        ("steprail.actions:BaseAction", "'steprail.actions:BaseAction' is an abstract action class: it has no params model of its own; pass your subclass (class MyAction(BaseAction[MyParams])"),
        ("steprail.actions.train:BaseTrainAction", "is an abstract action class: it has no params model of its own; pass your subclass (class MyAction(BaseTrainAction[MyParams, ...])"),
        ("missing/file.py:X", "action file 'missing/file.py' does not exist"),
    ],
)
def test_unknown_actions_exit_2_and_say_what_to_fix(home: Path, target: str, message: str) -> None:
    for command in ("run", "plan"):
        result = invoke(command, target)
        assert result.exit_code == 2, (command, result.output)
        assert message in result.output, (command, result.output)
        assert "BaseModel cannot be instantiated" not in result.output
    assert not (home / "jobs.sqlite3").exists()  # nothing was recorded or created


def test_bad_params_files_exit_2(home: Path, tmp_path: Path) -> None:
    missing = invoke("run", f"{ACTIONS}:EchoAction", "--params", str(tmp_path / "nope.json"))
    assert missing.exit_code == 2 and "does not exist" in missing.output
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "x",\n "count": }')
    malformed = invoke("run", f"{ACTIONS}:EchoAction", "--params", str(broken))
    assert malformed.exit_code == 2 and "is not valid JSON" in malformed.output and "line 2" in malformed.output
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    wrong_type = invoke("run", f"{ACTIONS}:EchoAction", "--params", str(listed))
    assert wrong_type.exit_code == 2 and "must hold a JSON object" in wrong_type.output
    no_equals = invoke("run", f"{ACTIONS}:EchoAction", "-p", "name")
    assert no_equals.exit_code == 2 and "-p expects KEY=VALUE" in no_equals.output
    assert not (home / "jobs.sqlite3").exists()


def test_params_files_in_toml_and_nested_assignments(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('name = "ada"\n[opt]\nlr = 0.1\n')
    assert collect_params(path, ["opt.lr=0.5", "opt.deep.x=true", "word=hello world"]) == {
        "name": "ada",
        "opt": {"lr": 0.5, "deep": {"x": True}},
        "word": "hello world",
    }


def test_a_damaged_store_exits_2_and_is_left_untouched(home: Path, tmp_path: Path) -> None:
    home.mkdir(parents=True)
    store = home / "jobs.sqlite3"
    store.write_bytes(b"garbage" * 100)
    for args in (["run", f"{ACTIONS}:EchoAction", "-p", "name=x"], ["jobs", "list"], ["jobs", "show", "1"]):
        result = invoke(*args)
        assert result.exit_code == 2, args
        assert "damaged or is not a steprail job store" in result.output
        assert "or pass another file with --store" in result.output  # the hint is added by the CLI
    assert store.read_bytes() == b"garbage" * 100


def test_a_locked_store_exits_2(home: Path, tmp_path: Path) -> None:
    store_of(home).close()
    blocker = sqlite3.connect(home / "jobs.sqlite3", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        result = invoke("run", f"{ACTIONS}:EchoAction", "-p", "name=x", "--lock-timeout", "0.1")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert result.exit_code == 2
    assert "is locked by another process" in result.output
    assert "wait for that process to finish, or pass another file with --store" in result.output
    assert store_of(home).list_jobs() == []


def test_a_home_that_is_a_file_exits_2_for_every_command(home: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "f"
    blocker.write_text("x\n")
    for args in (
        ["run", f"{ACTIONS}:EchoAction", "-p", "name=x"],
        ["demo"],
        ["jobs", "list"],
        ["jobs", "show", "1"],
    ):
        result = invoke(*args, "--home", str(blocker))
        assert result.exit_code == 2, (args, result.output)
        assert f"error: --home {str(blocker)!r} is not a folder" in result.output, (args, result.output)
        assert "no jobs recorded yet" not in result.output
    assert blocker.read_text() == "x\n"


def test_a_steprail_home_variable_that_is_a_file_is_named_as_such(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "f"
    blocker.write_text("x")
    monkeypatch.setenv("STEPRAIL_HOME", str(blocker))
    result = invoke("jobs", "list")
    assert result.exit_code == 2
    assert f"$STEPRAIL_HOME {str(blocker)!r} is not a folder" in result.output


def test_a_store_that_is_a_folder_exits_2(home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "somewhere"
    folder.mkdir()
    for args in (["jobs", "list"], ["jobs", "show", "1"], ["run", f"{ACTIONS}:EchoAction", "-p", "name=x"], ["demo"]):
        result = invoke(*args, "--store", str(folder))
        assert result.exit_code == 2, (args, result.output)
        assert f"{str(folder)!r} is a folder; --store needs a file" in result.output, (args, result.output)
    assert list(folder.iterdir()) == [] and not home.exists()
    # The default store path being a folder is reported too, by the store itself.
    (home / "jobs.sqlite3").mkdir(parents=True)
    result = invoke("jobs", "list")
    assert result.exit_code == 2 and "jobs.sqlite3' is a folder, not a file" in result.output


def test_misspelt_params_exit_2_with_a_suggestion(home: Path, tmp_path: Path) -> None:
    result = invoke("run", f"{ACTIONS}:EchoAction", "-p", "name=x", "-p", "cuont=2", "-p", "zzz=1")
    assert result.exit_code == 2, result.output
    assert "invalid params" in result.output and "2 problems" in result.output
    assert "cuont: unknown param; did you mean 'count'?" in result.output
    assert "zzz: unknown param; known params: name, count, tags" in result.output
    assert "recorded as failed job 1" in result.output
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"name": "x", "tgas": ["a"]}))
    from_file = invoke("run", f"{ACTIONS}:EchoAction", "--params", str(params))
    assert from_file.exit_code == 2 and "tgas: unknown param; did you mean 'tags'?" in from_file.output
    planned = invoke("plan", f"{ACTIONS}:EchoAction", "-p", "name=x", "-p", "cuont=2")
    assert planned.exit_code == 2 and "did you mean 'count'?" in planned.output
    records = store_of(home).list_jobs()
    assert [(job.status, job.progress) for job in records] == [("failed", 0), ("failed", 0)]
    # A params model with extra="allow" (BaseTrainParams) keeps accepting extra keys.
    allowed = invoke("run", f"{ACTIONS}:FileStepsAction", "-p", f"folder={tmp_path}", "-p", "note=hi")
    assert allowed.exit_code == 0, allowed.output
    assert store_of(home).get(3).params["note"] == "hi"


def test_plan_table_and_mermaid(home: Path) -> None:
    table = invoke("plan", "steprail.actions.anchors:AnchorBoxTrainAction")
    assert table.exit_code == 0, table.output
    steps_part = table.output.split("data flow")[0]  # the data-flow table follows (tests/cli/test_plan_flow.py)
    rows = {line.split("│")[2].strip(): line for line in steps_part.splitlines() if line.count("│") > 5}
    assert list(rows) == ["export_dataset", "convert_to_yolo", "train", "upload_model"]
    assert "70.0%" in rows["train"] and "yes" in rows["train"]
    assert all(line.split("│")[6].strip() == "yes" for line in rows.values())
    table = invoke("plan", f"{ACTIONS}:FileStepsAction")
    rows = {line.split("│")[2].strip(): line for line in table.output.splitlines() if line.count("│") > 5}
    assert [line.split("│")[6].strip() for line in rows.values()] == ["yes", "no", "no"]
    graph = invoke("plan", f"{ACTIONS}:FileStepsAction", "--mermaid")
    assert graph.exit_code == 0
    assert "flowchart TD" in graph.output and "s0 --> s1" in graph.output
    assert not (home / "jobs.sqlite3").exists()  # plan runs nothing and records nothing


def test_plan_with_invalid_params_exits_2(home: Path) -> None:
    result = invoke("plan", f"{ACTIONS}:EchoAction", "-p", "count=zero")
    assert result.exit_code == 2 and "count" in result.output


def test_jobs_list_and_show(home: Path, tmp_path: Path) -> None:
    empty = invoke("jobs", "list")
    assert empty.exit_code == 0 and "no jobs recorded yet" in empty.output
    assert not (home / "jobs.sqlite3").exists()
    invoke("run", f"{ACTIONS}:EchoAction", "-p", "name=x")
    invoke("run", f"{ACTIONS}:FileStepsAction", "-p", f"folder={tmp_path}", "-p", "fail=true")
    listing = invoke("jobs", "list")
    assert listing.exit_code == 0
    lines = [line for line in listing.output.splitlines() if "│" in line]
    assert len(lines) == 2
    assert lines[0].split("│")[1].strip() == "2" and "failed" in lines[0]
    assert lines[1].split("│")[1].strip() == "1" and "success" in lines[1]
    shown = invoke("jobs", "show", "2", "--logs", "5")
    assert shown.exit_code == 0
    assert "status: failed" in shown.output and "rolled back" in shown.output
    assert "make_marker.rollback(): ok" in shown.output
    as_json = json.loads(invoke("jobs", "show", "2", "--json").output)
    assert as_json["status"] == "failed" and [s["name"] for s in as_json["steps"]] == ["make_marker", "wait", "maybe_fail"]
    listed = json.loads(invoke("jobs", "list", "--json").output)
    assert [job["id"] for job in listed] == [2, 1]
    unknown = invoke("jobs", "show", "9")
    assert unknown.exit_code == 2 and "no job 9" in unknown.output


def test_demo_end_to_end(home: Path) -> None:
    result = invoke("demo", "--items", "12", "--clusters", "3", "--iterations", "6", "--plain")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "made a sample DM v2 dataset: 12 items" in out
    assert "imported it into the local backend as dataset 1" in out
    assert "metrics train: iteration=1 mean_iou=" in out
    assert "where everything went" in out
    record = store_of(home).get(1)
    assert record.status == "success"
    assert [s.name for s in record.steps] == ["export_dataset", "convert_to_yolo", "train", "upload_model"]
    assert "mean_iou" in json.dumps(store_of(home).logs(1, kind="metrics")[0].data)
    with LocalBackend(home / "backend") as backend:
        models = backend.list_models()
    assert len(models) == 1 and Path(models[0].file).is_file()
    assert json.loads(Path(models[0].file).read_text())["format"] == "steprail-anchors/1"
    assert (home / "work" / "job-1" / "dataset_yolo" / "dataset.yaml").is_file()
    again = invoke("demo", "--iterations", "3", "--plain")
    assert again.exit_code == 0, again.output
    assert "using dataset 1 ('demo-sample'" in again.output
    assert store_of(home).get(2).status == "success"


def test_help_lists_the_commands() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    # The rows of the Commands section, not the description line (which names them all as well).
    section = result.output[result.output.index("Commands:") :]
    names = [line.split()[0] for line in section.splitlines()[1:] if line.startswith("  ") and line[2] != " "]
    assert sorted(names) == ["demo", "jobs", "plan", "run", "submit"]  # drive is internal: hidden


@pytest.mark.parametrize("command", [["run"], ["plan"], ["demo"], ["jobs", "list"], ["jobs", "show"], ["jobs"], []])
def test_help_keeps_bracketed_defaults_and_shows_no_bool_type(command: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # one line per option
    result = invoke(*command, "--help")
    assert result.exit_code == 0, result.output
    # Flags take no value: no "<bool>" next to --help, --plain, --json or --mermaid.
    assert "<bool>" not in result.output
    assert "--help" in result.output
    if "--home" in result.output:
        text = " ".join(result.output.split())  # help lines wrap at 120 columns
        assert "work files [default: $STEPRAIL_HOME or ./.steprail]." in text
        assert "The job store file [default: <home>/jobs.sqlite3]." in text


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["jobs", "list", "--limit", "-1"], "'--limit' / '-n'"),
        (["jobs", "list", "-n", "0"], "'--limit' / '-n'"),
        (["jobs", "show", "1", "--logs", "-1"], "'--logs'"),
    ],
)
def test_negative_counts_are_refused(home: Path, args: list[str], option: str) -> None:
    invoke("run", f"{ACTIONS}:EchoAction", "-p", "name=x")
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for {option}" in result.output


def test_a_step_that_never_ran_reads_not_run_in_tables_and_pending_in_the_record(home: Path) -> None:
    plan = [PlannedStep(0, "first", 1.0, 0.5, True, "A"), PlannedStep(1, "second", 1.0, 0.5, False, "B")]
    with store_of(home) as store:
        for final in ("cancelled", None):  # job 1 ended, job 2 still running (this process)
            job = store.create_job("pkg:Action", {})
            store.start_job(job, plan, {})
            store.step_started(job, 0)
            store.step_finished(job, 0, "success", 0.1, {}, None)
            if final == "cancelled":
                store.finish_job(job, "cancelled", error="cancelled by SIGTERM")
    ended = invoke("jobs", "show", "1")
    row = next(line for line in ended.output.splitlines() if " second " in line)
    assert "not run" in row and "pending" not in row
    as_json = json.loads(invoke("jobs", "show", "1", "--json").output)
    assert [step["status"] for step in as_json["steps"]] == ["success", "pending"]  # the record's word
    running = invoke("jobs", "show", "2")
    row = next(line for line in running.output.splitlines() if " second " in line)
    assert "pending" in row  # it may still run
    assert shown_step_status("pending", "interrupted") == "not run"
    assert shown_step_status("cancelled", "cancelled") == "cancelled"


def test_json_log_gets_every_event(home: Path, tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    result = invoke("run", f"{ACTIONS}:FileStepsAction", "-p", f"folder={tmp_path}", "--json-log", str(log))
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert events[0]["type"] == "job_created" and events[-1]["type"] == "job_finished"
    assert [e["step"] for e in events if e["type"] == "step_finished"] == ["make_marker", "wait", "maybe_fail"]
    unwritable = invoke("run", f"{ACTIONS}:EchoAction", "-p", "name=x", "--json-log", str(tmp_path))
    assert unwritable.exit_code == 2 and "cannot write the JSON-lines log" in unwritable.output


def test_a_damaged_backend_exits_2_and_is_left_untouched(home: Path, tmp_path: Path) -> None:
    catalogue = home / "backend" / "catalog.sqlite3"
    catalogue.parent.mkdir(parents=True)
    catalogue.write_bytes(b"not sqlite" * 50)
    result = invoke("run", f"{ACTIONS}:FileStepsAction", "-p", f"folder={tmp_path}")
    assert result.exit_code == 2
    assert "cannot open the local backend" in result.output
    assert catalogue.read_bytes() == b"not sqlite" * 50
    assert store_of(home).list_jobs() == []


def test_demo_with_an_unusable_sample_folder_exits_2(home: Path) -> None:
    folder = home / "demo" / "sample-dmv2"
    folder.mkdir(parents=True)
    (folder / "stray.txt").write_text("not a dataset")
    result = invoke("demo", "--plain")
    assert result.exit_code == 2
    assert "delete that folder and run steprail demo again" in result.output
    assert (folder / "stray.txt").read_text() == "not a dataset"


def test_plan_that_needs_params_says_which(home: Path) -> None:
    result = invoke("plan", "examples/cancellable_job.py:SlowJob")
    assert result.exit_code == 2
    assert "depends on its params" in result.output and "folder: Field required" in result.output
    ok = invoke("plan", "examples/cancellable_job.py:SlowJob", "-p", "folder=/tmp")
    assert ok.exit_code == 0 and "slow_work" in ok.output
