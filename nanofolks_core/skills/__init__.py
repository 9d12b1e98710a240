"""Skills: SKILL.md folders the crew reads on demand, rated by a scanner and approved by the user.

- :mod:`.manifest`: reading a SKILL.md (frontmatter ``name``, ``description``, ``requires``);
- :mod:`.discovery`: finding skill folders (workspace, installed skill packages) and hashing them;
- :mod:`.risk`: the risk levels and what each lets a skill do;
- :mod:`.store`: approvals and the scan cache under ``<data root>/skills/``;
- :mod:`.catalog`: all of it together (what ``nanofolks skills`` and the crew use);
- :mod:`.tool`: the system-prompt section and the ``read_skill`` tool.
"""

from nanofolks_core.skills.catalog import NO_SCANNER, SkillCatalog, SkillEntry, scan_path
from nanofolks_core.skills.discovery import Skill, content_hash, discover
from nanofolks_core.skills.manifest import SkillFormatError, SkillManifest, parse_skill_md
from nanofolks_core.skills.risk import Risk, Status, decide, finding_risk, rate
from nanofolks_core.skills.store import Approval, SkillStateStore
from nanofolks_core.skills.tool import read_skill, skills_prompt_section

__all__ = [
    "NO_SCANNER",
    "Approval",
    "Risk",
    "Skill",
    "SkillCatalog",
    "SkillEntry",
    "SkillFormatError",
    "SkillManifest",
    "SkillStateStore",
    "Status",
    "content_hash",
    "decide",
    "discover",
    "finding_risk",
    "parse_skill_md",
    "rate",
    "read_skill",
    "scan_path",
    "skills_prompt_section",
]
