"""Registers the weather skill. Light: the SKILL.md is read only when skills are listed or used."""

from nanofolks_core.api import SkillSpec, hookimpl

NANOFOLKS_API = "1.0"


@hookimpl
def nanofolks_register_skills(register):
    register(
        SkillSpec(
            name="weather",
            summary="Current weather and short forecasts from wttr.in or Open-Meteo, no API key needed.",
            resource="nanofolks_skill_weather:skill",
        )
    )
