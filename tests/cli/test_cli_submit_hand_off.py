"""``steprail submit`` hands each job's raw params to its driving process through a private file:
two stores under one home (both number their jobs from 1) never swap params, and the files are
the user's alone and gone once read."""

from __future__ import annotations

import json
import stat
import subprocess
import time
from pathlib import Path

from steprail.jobs import JobStore
from tests.cli.test_cli_process import ACTION, ROOT, _command, _env


def test_two_stores_under_one_home_keep_their_own_params(tmp_path: Path) -> None:
    home = tmp_path / "home"
    submits = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        params = tmp_path / f"{name}.json"
        params.write_text(json.dumps({"folder": str(tmp_path / name), "dataset": 1}))
        submits.append(
            subprocess.Popen(
                [*_command(), "submit", ACTION, "--params", str(params), "--store", str(tmp_path / f"{name}.sqlite3")],
                cwd=ROOT, env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
        )  # fmt: skip
    for process in submits:
        out, err = process.communicate(timeout=90)
        assert process.returncode == 0 and out.split() == ["1"], err
    for name in ("a", "b"):
        deadline = time.monotonic() + 60
        while True:
            with JobStore(tmp_path / f"{name}.sqlite3", read_only=True) as store:
                job = store.get(1)
            if job.status not in ("pending", "running"):
                break
            assert time.monotonic() < deadline
            time.sleep(0.1)
        # Each store's job ran with its own params, and did its own work.
        assert (job.status, job.params["folder"]) == ("success", str(tmp_path / name)), job.error
        assert (tmp_path / name / "marker.txt").exists()
    handed = sorted((home / "submitted").iterdir())
    assert [path.suffix for path in handed] == [".log", ".log"]  # the params files were deleted
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in handed)
