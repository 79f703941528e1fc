"""Actions for the review-fix tests: results JSON cannot hold, prints, secrets, nested params."""

from __future__ import annotations

import datetime
import decimal
import math
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from steprail.actions import BaseAction


class ReturnParams(BaseModel):
    """Which value :class:`ReturningAction` returns."""

    kind: str = "plain"


def _cyclic() -> dict[str, Any]:
    value: dict[str, Any] = {}
    value["self"] = value
    return value


class ReturningAction(BaseAction[ReturnParams]):
    """Returns a value picked by ``kind``: plain, rich (JSON cannot hold it as is), or wrong."""

    def execute(self) -> Any:
        if self.params.kind == "rich":
            return {
                "when": datetime.datetime(2024, 1, 2, 3, 4, 5),
                "price": decimal.Decimal("1.10"),
                "ids": {7},
                "ratio": math.nan,
                "big": math.inf,
                "thing": object.__new__(_Opaque),
                "word": "grün",
            }
        if self.params.kind == "list":
            return [1, 2]
        if self.params.kind == "tuplekey":
            return {"a": {(1, 2): "x"}}
        if self.params.kind == "cyclic":
            return _cyclic()
        if self.params.kind == "print":
            print("chatter from a step")
            return {"ok": True}
        if self.params.kind == "slow":
            import os
            import time

            (Path(os.environ["STEPRAIL_HOME"]) / "started").touch()
            time.sleep(60)
        if self.params.kind == "fail-huge":
            raise RuntimeError("x" * 200_000)
        if self.params.kind == "fail-ansi":
            raise RuntimeError("\x1b[31mred\x1b[0m and\nsecond line")
        return {"ok": True}


class _Opaque:
    def __repr__(self) -> str:
        return "<opaque>"


class SecretParams(BaseModel):
    """A secret and a plain field."""

    token: SecretStr
    label: str = "x"


class SecretAction(BaseAction[SecretParams]):
    """Fails after using its token."""

    def execute(self) -> dict[str, Any]:
        raise RuntimeError("boom")


class Inner(BaseModel):
    """A nested model."""

    size: int = 1


class NestedParams(BaseModel):
    """Params with a nested model and typed scalars."""

    inner: Inner = Inner()
    count: int = 1
    path: Path | None = None
    ratio: float = 0.0


class NestedAction(BaseAction[NestedParams]):
    """Returns its params."""

    def execute(self) -> dict[str, Any]:
        return self.params.model_dump(mode="json")


HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


class LockParams(BaseModel):
    """Where the job store is, and a file to write the lock holder's pid to."""

    store: str
    pid_file: str


class LockingAction(BaseAction[LockParams]):
    """Starts another process that holds the job store's write lock, then returns: the job's
    next write (its success record) meets the lock."""

    def execute(self) -> dict[str, Any]:
        import subprocess
        import sys

        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD_LOCK, self.params.store, "60"], stdout=subprocess.PIPE, text=True
        )
        with open(self.params.pid_file, "w") as pid_file:
            pid_file.write(str(holder.pid))
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        return {"held": True}
