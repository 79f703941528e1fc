"""The actions ``bench_ray_executor.py`` runs (a module the Ray workers import from the shipped
benchmarks folder)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from steprail.actions import BaseAction, Resources


class TinyParams(BaseModel):
    """How many progress reports the action makes."""

    reports: int = Field(default=1, ge=1)


class TinyAction(BaseAction[TinyParams]):
    """Does nothing but report progress ``reports`` times."""

    resources = Resources(cpus=1)

    def execute(self) -> dict[str, Any]:
        for done in range(1, self.params.reports + 1):
            self.set_progress(done, self.params.reports + 1)
        return {"reports": self.params.reports}
