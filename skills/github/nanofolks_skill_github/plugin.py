"""Registers the github skill. Light: the SKILL.md is read only when skills are listed or used."""

from nanofolks_core.api import SkillSpec, hookimpl

NANOFOLKS_API = "1.0"


@hookimpl
def nanofolks_register_skills(register):
    register(
        SkillSpec(
            name="github",
            summary="GitHub through the gh CLI: issues, pull requests, CI runs, releases, the API",
            resource="nanofolks_skill_github:skill",
        )
    )
