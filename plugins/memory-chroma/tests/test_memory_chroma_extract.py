"""Local rule-based extraction of entities, relations and preferences (no model, no LLM)."""

from __future__ import annotations

import pytest
from nanofolks_memory_chroma.extract import extract


def entities(text: str, role: str = "user") -> dict[str, str]:
    return {entity.name: entity.kind for entity in extract(text, role).entities}


def relations(text: str) -> set[tuple]:
    found = extract(text, "user").relations
    return {(r.subject, r.predicate, r.object) for r in found if r.predicate != "mentioned with"}


def preferences(text: str, role: str = "user") -> dict[str, str]:
    return {p.key: p.statement for p in extract(text, role).preferences}


def test_people_places_organizations_and_concepts():
    found = entities("My sister Anna lives in Berlin and works at Google. She is learning Rust.")
    assert found == {"Anna": "person", "Berlin": "place", "Google": "organization", "Rust": "concept"}
    assert entities("I am studying machine learning at Stanford University") == {
        "Stanford University": "organization",
        "Machine learning": "concept",
    }


def test_relations_about_the_user_and_between_entities():
    expected = {(None, "has a sister", "Anna"), ("Anna", "lives in", "Berlin")}
    assert relations("My sister Anna lives in Berlin.") >= expected
    assert relations("My dog Rex loves the beach") == {(None, "has a pet", "Rex"), ("Rex", "is a", "dog")}
    assert (None, "is moving to", "Lisbon") in relations("We're moving to Lisbon next spring")
    assert (None, "works at", "Acme Corp") in relations("I work at Acme Corp.")
    together = {
        (r.subject, r.object) for r in extract("Met Tom in Paris", "user").relations if r.predicate == "mentioned with"
    }
    assert together == {("Tom", "Paris")}


@pytest.mark.parametrize(
    ("text", "key", "statement"),
    [
        ("shorter please", "answer_length", "Keep answers short and concise."),
        ("that was way too long", "answer_length", "Keep answers short and concise."),
        ("can you go deeper and give more detail?", "answer_length", "Give detailed, thorough answers."),
        ("call me Sam", "name", "Call the user Sam."),
        ("Hi, my name is Maria Lopez", "name", "Call the user Maria Lopez."),
        ("I prefer Python over Java for scripting", "prefers:python", "Prefers Python over Java."),
        ("I really hate cilantro.", "likes:cilantro", "Dislikes cilantro."),
        ("I love hiking", "likes:hiking", "Likes hiking."),
        ("please reply in Spanish", "reply_language", "Reply in Spanish."),
        ("no emojis please", "emoji", "Do not use emojis."),
        ("could you be more formal", "tone", "Use a formal tone."),
    ],
)
def test_preferences_from_feedback(text, key, statement):
    assert preferences(text).get(key) == statement


def test_assistant_messages_teach_no_preferences_and_no_user_facts():
    assert preferences("I prefer Python over Java", role="assistant") == {}
    assert all(r.subject is not None for r in extract("My sister Anna lives in Berlin", "assistant").relations)


def test_plain_sentences_give_nothing_spurious():
    assert entities("What do you think? This is fine. Thanks!") == {}
    assert preferences("Can you summarise the report?") == {}
    assert entities("The meeting with Dr Smith is tomorrow") == {"Smith": "person"}
