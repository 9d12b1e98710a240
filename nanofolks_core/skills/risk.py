"""The risk policy: how findings rate a skill, and what each rating lets it do.

The user guide's levels, rated from each finding's severity and confidence (bandit's scale, which
every scanner reports in):

| finding                          | risk     | what it means                                            |
|----------------------------------|----------|----------------------------------------------------------|
| severity high, confidence high   | Critical | runs shell commands, changes the system, sends data out |
| severity high, other confidence  | High     | reads sensitive files or folders                         |
| severity medium                  | Medium   | uses external APIs or the network, broad file access     |
| severity low (or no finding)     | Low      | pure text, no side effects                               |

A skill is as risky as its riskiest finding. Low loads by itself; Medium and High wait for
``nanofolks skills approve NAME``; Critical stays blocked unless approved with ``--force``. A skill no
scanner has rated (no scanner installed, or the scanner failed) waits for approval like Medium.
Approvals hold the skill's content hash: a changed skill is rated and approved again.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any


class Risk(enum.IntEnum):
    """A skill's rating; compares in order (``Risk.HIGH > Risk.MEDIUM``)."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.capitalize()

    @classmethod
    def parse(cls, text: str) -> Risk:
        return cls[text.strip().upper()]


class Status(enum.StrEnum):
    """Whether a skill is offered to the crew, and if not, why."""

    LOADED = "loaded"  # Low: loads without approval
    APPROVED = "approved"  # approved by the user for exactly this content
    NEEDS_APPROVAL = "needs approval"  # Medium, High or unscanned, or changed since it was approved
    BLOCKED = "blocked"  # Critical: only `approve --force` lets it load
    INVALID = "invalid"  # its SKILL.md cannot be read
    SHADOWED = "shadowed"  # another skill of the same name comes first

    @property
    def loads(self) -> bool:
        return self in (Status.LOADED, Status.APPROVED)


def finding_risk(finding: Any) -> Risk:
    """The risk one finding stands for (see the table above)."""
    severity = str(finding.severity).lower()
    if severity == "high":
        return Risk.CRITICAL if str(finding.confidence).lower() == "high" else Risk.HIGH
    if severity == "medium":
        return Risk.MEDIUM
    return Risk.LOW


def rate(findings: Iterable[Any]) -> Risk:
    """A skill's risk: that of its riskiest finding, Low with none."""
    return max((finding_risk(f) for f in findings), default=Risk.LOW)


def decide(risk: Risk | None, approval: Any | None, content_hash: str) -> Status:
    """The status of a skill rated ``risk`` (None: unscanned) given its approval record, if any.

    An approval counts only for the content it was given for, and a Critical skill only if the
    approval was forced.
    """
    approved = approval is not None and approval.content_hash == content_hash
    if risk is Risk.LOW:
        return Status.LOADED
    if risk is Risk.CRITICAL:
        return Status.APPROVED if approved and approval.forced else Status.BLOCKED
    return Status.APPROVED if approved else Status.NEEDS_APPROVAL
