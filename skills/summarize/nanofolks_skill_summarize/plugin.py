"""Registers the summarize skill. Light: the SKILL.md is read only when skills are listed or used."""

from nanofolks_core.api import SkillSpec, hookimpl

NANOFOLKS_API = "1.0"


@hookimpl
def nanofolks_register_skills(register):
    register(
        SkillSpec(
            name="summarize",
            summary="Summarize a text, a conversation or a document, at the length and for the reader the user wants.",
            resource="nanofolks_skill_summarize:skill",
        )
    )
