"""Context attributes: a name that is not declared is an error for both checkers, with or
without @dataclass on the context class."""

from __future__ import annotations

from dataclasses import dataclass, field

from steprail import BaseStepContext, RuntimeContext


@dataclass
class Decorated(BaseStepContext):
    title: str = ""


class Undecorated(BaseStepContext):
    title: str = ""
    tags: list[str] = field(default_factory=list[str])


class Required(BaseStepContext, kw_only=True):
    title: str


def use(decorated: Decorated, undecorated: Undecorated) -> None:
    decorated.title = "ok"
    undecorated.tags = ["ok"]
    decorated.current_step = "bookkeeping"
    decorated.titel = "x"  # E: attr-defined reportAttributeAccessIssue
    print(undecorated.titel)  # E: attr-defined reportAttributeAccessIssue reportUnknownArgumentType reportUnknownMemberType
    undecorated.tag = ["x"]  # E: attr-defined reportAttributeAccessIssue
    undecorated.title = 3  # E: assignment reportAttributeAccessIssue
    decorated._scratch = 1  # E: attr-defined reportAttributeAccessIssue


runtime = RuntimeContext()
Undecorated(runtime_ctx=runtime, title="t", tags=[])
Undecorated(runtime, [], [], "t")
Undecorated(runtime_ctx=runtime, titel="t")  # E: call-arg reportCallIssue
Undecorated(runtime_ctx=runtime, title=1)  # E: arg-type reportArgumentType
Required(runtime_ctx=runtime, title="t")
Required(runtime_ctx=runtime)  # E: call-arg reportCallIssue


# kw_only is the one class keyword; a dataclass option written as one is refused by both checkers.
class KeywordOnly(BaseStepContext, kw_only=True):
    count: int


class Ordered(BaseStepContext, order=True):  # E: call-arg reportCallIssue reportGeneralTypeIssues
    rank: int = 0


class Frozen(BaseStepContext, frozen=True):  # E: call-arg misc reportCallIssue reportGeneralTypeIssues
    rank: int = 0
