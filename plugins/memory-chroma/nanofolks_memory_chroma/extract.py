"""Local, rule-based extraction: entities, their relations, and the user's preferences.

Patterns and small word lists only: no model, no download, no LLM request, a fraction of
a millisecond per message. It favours precision over recall: a wrong "fact" in the prompt
costs more than a missed one. Relations whose ``subject`` is None are about the user.
"""

from __future__ import annotations

import re
from itertools import combinations

import attrs

PERSON, PLACE, ORGANIZATION, CONCEPT, PET = "person", "place", "organization", "concept", "pet"


@attrs.frozen
class Entity:
    name: str
    kind: str


@attrs.frozen
class Relation:
    subject: str | None  # None: the user
    predicate: str
    object: str


@attrs.frozen
class Preference:
    """``key`` identifies what the preference is about (a newer value replaces an older one)."""

    key: str
    value: str
    statement: str


@attrs.frozen
class Extraction:
    entities: tuple[Entity, ...] = ()
    relations: tuple[Relation, ...] = ()
    preferences: tuple[Preference, ...] = ()


# A capitalised name of one to three words ("Rex", "Anna Maria", "New York").
NAME = r"(?P<name>[A-Z][\w'’.-]*(?:\s+(?:of\s+)?[A-Z][\w'’-]*){0,2})"
# A short lowercase-or-any phrase, up to the end of the clause.
PHRASE = r"(?P<phrase>[\w+#.'’ -]{2,40}?)"
END = r"(?=\s*(?:[,.;:!?)]|\s(?:over|instead|than|because|but|and|for|when|if|so|at|with|from|on)\b|$))"

_FAMILY = (
    "wife|husband|partner|boyfriend|girlfriend|fiancée?|best friend|friend|brother|sister|mom|mum|mother|dad|"
    "father|son|daughter|boss|manager|colleague|coworker|co-worker|cousin|aunt|uncle|grandma|grandmother|"
    "grandpa|grandfather|neighbou?r|roommate|flatmate|teacher|doctor|therapist|kid|baby|niece|nephew"
)
_ANIMALS = "dog|cat|puppy|kitten|parrot|bird|hamster|rabbit|bunny|horse|pony|fish|turtle|tortoise|snake|lizard|pet"

_COUNTRIES_CITIES = set(
    """Afghanistan Albania Algeria Argentina Armenia Australia Austria Belgium Bolivia Brazil Bulgaria Cambodia
    Canada Chile China Colombia Croatia Cuba Czechia Denmark Ecuador Egypt England Estonia Ethiopia Finland France
    Georgia Germany Ghana Greece Hungary Iceland India Indonesia Iran Iraq Ireland Israel Italy Jamaica Japan Jordan
    Kenya Korea Latvia Lebanon Lithuania Luxembourg Malaysia Mexico Morocco Nepal Netherlands Nigeria Norway Pakistan
    Peru Philippines Poland Portugal Romania Russia Scotland Serbia Singapore Slovakia Slovenia Spain Sweden
    Switzerland Taiwan Thailand Tunisia Turkey Ukraine Uruguay Venezuela Vietnam Wales Europe Asia Africa America
    Amsterdam Athens Bangkok Barcelona Beijing Berlin Bogota Boston Brussels Budapest Cairo Chicago Copenhagen Delhi
    Dubai Dublin Edinburgh Florence Frankfurt Hamburg Helsinki Istanbul Jakarta Kyoto Lagos Lisbon London
    Madrid Manchester Melbourne Miami Milan Montreal Moscow Mumbai Munich Nairobi Naples Oslo Paris Porto Prague Rome
    Seattle Seoul Shanghai Stockholm Sydney Tokyo Toronto Vancouver Venice Vienna Warsaw Zurich Austin Denver Portland
    Hawaii California Texas Florida Bali Tuscany Provence Bavaria""".split()
) | {"New York", "San Francisco", "Los Angeles", "Hong Kong", "Mexico City", "Buenos Aires", "Rio de Janeiro",
     "Cape Town", "New Zealand", "South Africa", "United States", "United Kingdom", "Sri Lanka", "Tel Aviv"}

_KNOWN_ORGS = set(
    """Google Microsoft Apple Amazon Meta Facebook OpenAI Anthropic Netflix IBM Intel Nvidia NVIDIA AMD Tesla SpaceX
    GitHub GitLab Mozilla Spotify Uber Airbnb NASA UNICEF Oracle Samsung Sony Adobe Salesforce Stripe Shopify
    Twitter LinkedIn Reddit Wikipedia Siemens Bosch SAP Toyota BMW Volkswagen Ikea IKEA Deloitte Accenture""".split()
)
_ORG_SUFFIX = re.compile(
    r"\b(?P<name>(?:[A-Z][\w&'’-]*\s+){0,3}(?:Inc|Corp|Corporation|Ltd|LLC|GmbH|University|College|Institute|Bank|"
    r"Labs|Foundation|Group|Company|Hospital|School|Agency|Museum|Studios?)\b\.?(?:\s+of\s+[A-Z]\w+)?)"
)

_CONCEPTS = {
    term.lower(): term
    for term in """Python|JavaScript|TypeScript|Rust|Java|Kotlin|Swift|Ruby|PHP|Haskell|Scala|Elixir|Golang|
    C\\+\\+|C#|SQL|PostgreSQL|SQLite|MySQL|MongoDB|Redis|Docker|Kubernetes|Linux|Windows|macOS|React|Vue|Svelte|Django|Flask|FastAPI|
    Node.js|pandas|NumPy|PyTorch|TensorFlow|machine learning|deep learning|artificial intelligence|AI|LLMs?|blockchain|
    climate change|photography|cooking|baking|gardening|yoga|running|cycling|hiking|climbing|surfing|swimming|chess|
    guitar|piano|painting|knitting|meditation|football|soccer|basketball|tennis|vegan|vegetarian|marathon|jazz|
    poetry|astronomy|economics|philosophy|statistics|calculus|physics|chemistry|biology""".replace("\n", "").split("|")
}
_CONCEPT_RE = re.compile(r"(?<![\w+#])(" + "|".join(sorted(_CONCEPTS, key=len, reverse=True)) + r")(?![\w+#])",
                         re.IGNORECASE)
# Plain-text spellings of the regex alternatives above.
_CONCEPT_NAMES = {"c\\+\\+": "C++", "llms?": "LLMs"}

_NOT_NAMES = set(
    """I I'm I've I'd I'll Im The A An My Your Our Their His Her Its It This That These Those He She We They You Me
    Hi Hello Hey Thanks Thank Please Yes No Ok OK Okay Sure Well So But And Or If When What Why How Who Where Which
    Also Just Maybe Today Tomorrow Yesterday Monday Tuesday Wednesday Thursday Friday Saturday Sunday Sir Madam
    Mr Mrs Ms Dr Let Can Could Would Should Will Do Does Did Is Are Was Were Be Have Has Had Not Don't""".split()
)

_RULES_PEOPLE = [
    (re.compile(rf"\b(?i:my)\s+(?P<rel>(?i:{_FAMILY})),?\s+{NAME}"), "rel"),
    (re.compile(rf"{NAME},?\s+(?i:is\s+)?my\s+(?P<rel>(?i:{_FAMILY}))\b"), "rel"),
    (re.compile(rf"\b(?i:with|met|meet|meeting|told|tell|asked|ask|email|emailed|texted|visited|married|dating)\s+{NAME}"),
     None),
]
_PET_RULE = re.compile(rf"\b(?i:my|our)\s+(?P<species>(?i:{_ANIMALS})),?\s+(?i:(?:named|called)\s+)?{NAME}")
_PLACE_RULES = [
    (re.compile(rf"\b(?i:live|living|lived|based|reside|residing)\s+(?i:in|near)\s+{NAME}"), "lives in"),
    (re.compile(rf"\b(?i:moved|moving|move|relocating|relocate)\s+(?i:to)\s+{NAME}"), "is moving to"),
    (re.compile(rf"\b(?i:born|grew up)\s+(?i:in)\s+{NAME}"), "grew up in"),
    (re.compile(rf"\b(?i:i'm|i am|i come)\s+(?i:originally\s+)?(?i:from)\s+{NAME}"), "is from"),
    (re.compile(rf"\b(?i:trip|travel(?:l?ing)?|flight|fly(?:ing)?|going|vacation|holiday|visit(?:ing)?|heading)\s+"
                rf"(?i:to\s+)?{NAME}"), "is travelling to"),
]
_WORK_RULE = re.compile(rf"\b(?i:work|working|worked|job|intern|interning|employed)\s+(?i:at|for|with)\s+{NAME}")
_THIRD_PERSON = re.compile(rf"{NAME}\s+(?P<verb>(?i:works|worked|lives|lived))\s+(?i:at|for|in)\s+(?P<obj>[A-Z][\w'’-]*"
                           rf"(?:\s+[A-Z][\w'’-]*){{0,2}})")
_INTEREST_RULE = re.compile(rf"\b(?i:i'm|i am|i've been|i have been)\s+(?i:learning|studying|interested in|into|"
                            rf"reading about|passionate about|working on)\s+{PHRASE}{END}")

_PREFERENCE_RULES = [
    (re.compile(r"\b(shorter|more concise|be concise|less verbose|too long|too wordy|tl;?dr|keep it (short|brief)|"
                r"brief(er)? (answers|replies)|shorter answers)\b", re.I),
     lambda m: Preference("answer_length", "short", "Keep answers short and concise.")),
    (re.compile(r"\b(more detail(s|ed)?|longer answers|elaborate more|go deeper|in more depth|too short|"
                r"explain more)\b", re.I),
     lambda m: Preference("answer_length", "detailed", "Give detailed, thorough answers.")),
    (re.compile(r"\b(no|stop using|don'?t use|do not use|without|fewer|less) emojis?\b", re.I),
     lambda m: Preference("emoji", "off", "Do not use emojis.")),
    (re.compile(r"\b(?:reply|answer|respond|talk|speak|write)(?: to me)? in (?P<lang>English|Spanish|French|German|"
                r"Italian|Portuguese|Dutch|Japanese|Chinese|Korean|Russian|Arabic|Hindi|Polish|Turkish|Swedish)\b",
                re.I),
     lambda m: Preference("reply_language", m["lang"].title(), f"Reply in {m['lang'].title()}.")),
    (re.compile(r"\b(?:use|with|in|prefer) (?P<fmt>bullet points|bullets|tables?|numbered lists?|plain text)\b", re.I),
     lambda m: Preference("format", m["fmt"].lower(), f"Format answers with {m['fmt'].lower()}.")),
    (re.compile(r"\b(?:be|sound|more|less)\s+(?:more\s+)?(?P<tone>formal|casual|friendly|direct|blunt|playful|serious)"
                r"\b", re.I),
     lambda m: Preference("tone", m["tone"].lower(), f"Use a {m['tone'].lower()} tone.")),
]
_NAME_RULE = re.compile(rf"\b(?i:call me|my name is|my name's|i'm called|i am called|name's)\s+{NAME}")
_PREFER_RULE = re.compile(rf"\b(?i:i)\s+(?i:prefer|would prefer|'d prefer|’d prefer|would rather use|'d rather use)\s+"
                          rf"{PHRASE}(?:\s+(?i:over|to|instead of|rather than)\s+(?P<other>[\w+#.' -]{{2,30}}?))?{END}")
_LIKE_RULE = re.compile(rf"\b(?i:i)\s+(?i:really\s+)?(?P<verb>(?i:love|like|enjoy|adore|hate|dislike|can't stand|"
                        rf"can’t stand|don't like|don’t like|do not like))\s+{PHRASE}{END}")
_NEGATIVE = ("hate", "dislike", "can't stand", "can’t stand", "don't like", "don’t like", "do not like")


_TITLES = ("Dr", "Dr.", "Mr", "Mr.", "Mrs", "Mrs.", "Ms", "Ms.", "Prof", "Prof.")


def _clean_name(name: str) -> str:
    name = re.sub(r"(['’]s|[.'’-])+$", "", name.strip())
    if name.split(" ", 1)[0] in _TITLES and " " in name:
        name = name.split(" ", 1)[1]
    return " ".join(word for word in name.split() if word)


def _is_name(name: str) -> bool:
    return bool(name) and name.split()[0] not in _NOT_NAMES and len(name) > 1


def _phrase(text: str) -> str:
    return re.sub(r"^(the|a|an|to)\s+", "", text.strip(" .,'’"), flags=re.I).strip()


class _Collector:
    def __init__(self) -> None:
        self.entities: dict[str, Entity] = {}
        self.relations: list[Relation] = []
        self.preferences: dict[str, Preference] = {}

    def entity(self, name: str, kind: str) -> str | None:
        name = _clean_name(name)
        if not _is_name(name):
            return None
        key = name.lower()
        # A more specific kind (found by a rule) wins over a generic guess.
        if key not in self.entities or self.entities[key].kind == PERSON and kind != PERSON:
            self.entities[key] = Entity(name, kind)
        return self.entities[key].name

    def relation(self, subject: str | None, predicate: str, obj: str | None) -> None:
        if obj and Relation(subject, predicate, obj) not in self.relations:
            self.relations.append(Relation(subject, predicate, obj))


def _kind_of(name: str) -> str:
    if name in _COUNTRIES_CITIES:
        return PLACE
    if name in _KNOWN_ORGS or _ORG_SUFFIX.fullmatch(name):
        return ORGANIZATION
    return PERSON


def _extract_entities(text: str, found: _Collector, about_user: bool) -> None:
    for match in _PET_RULE.finditer(text):
        pet = found.entity(match["name"], PET)
        species = match["species"].lower()
        if pet:
            found.entity(species, CONCEPT) if species != "pet" else None
            found.relation(pet, "is a", species if species != "pet" else None)
            if about_user:
                found.relation(None, "has a pet", pet)
    for rule, rel_group in _RULES_PEOPLE:
        for match in rule.finditer(text):
            name = _clean_name(match["name"])
            person = found.entity(name, _kind_of(name))
            if person and rel_group and about_user:
                found.relation(None, f"has a {match[rel_group].lower()}", person)
    for rule, predicate in _PLACE_RULES:
        for match in rule.finditer(text):
            place = found.entity(match["name"], PLACE)
            if about_user and re.search(r"\b(?i:i|i'm|we|my)\b", text[: match.start() + 1] or "I"):
                found.relation(None, predicate, place)
    for match in _WORK_RULE.finditer(text):
        org = found.entity(match["name"], ORGANIZATION)
        if about_user:
            found.relation(None, "works at", org)
    for match in _THIRD_PERSON.finditer(text):
        verb = match["verb"].lower()
        subject = found.entity(match["name"], PERSON)
        obj_kind = PLACE if verb.startswith("live") else ORGANIZATION
        obj = found.entity(match["obj"], obj_kind)
        if subject:
            found.relation(subject, "lives in" if obj_kind == PLACE else "works at", obj)
    for match in _ORG_SUFFIX.finditer(text):
        found.entity(match["name"], ORGANIZATION)
    for name in sorted(_COUNTRIES_CITIES | _KNOWN_ORGS):
        if name in text and re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text):
            found.entity(name, _kind_of(name))
    for match in _CONCEPT_RE.finditer(text):
        word = match.group(1)
        canonical = _CONCEPTS.get(word.lower()) or _CONCEPT_NAMES.get(word.lower(), word)
        canonical = _CONCEPT_NAMES.get(canonical.lower(), canonical)
        # Lowercase hobby words ("cooking") are concepts; capitalised language names keep their spelling.
        found.entity(canonical[:1].upper() + canonical[1:], CONCEPT)
    for match in _INTEREST_RULE.finditer(text):
        topic = _phrase(match["phrase"])
        if topic and len(topic.split()) <= 4:
            concept = found.entity(topic[:1].upper() + topic[1:], CONCEPT)
            if about_user:
                found.relation(None, "is interested in", concept)


def _extract_preferences(text: str, found: _Collector) -> None:
    for rule, make in _PREFERENCE_RULES:
        match = rule.search(text)
        if match:
            preference = make(match)
            found.preferences[preference.key] = preference
    match = _NAME_RULE.search(text)
    if match:
        name = _clean_name(match["name"])
        if _is_name(name):
            found.preferences["name"] = Preference("name", name, f"Call the user {name}.")
    for match in _PREFER_RULE.finditer(text):
        choice = _phrase(match["phrase"])
        if choice and len(choice.split()) <= 5:
            other = f" over {_phrase(match['other'])}" if match["other"] else ""
            found.preferences[f"prefers:{choice.lower()}"] = Preference(
                f"prefers:{choice.lower()}", choice, f"Prefers {choice}{other}."
            )
    for match in _LIKE_RULE.finditer(text):
        thing = _phrase(match["phrase"])
        if thing and len(thing.split()) <= 5 and thing.lower() not in ("it", "that", "this", "you", "them"):
            negative = match["verb"].lower() in _NEGATIVE
            found.preferences[f"likes:{thing.lower()}"] = Preference(
                f"likes:{thing.lower()}", "dislikes" if negative else "likes",
                f"{'Dislikes' if negative else 'Likes'} {thing}.",
            )


def extract(text: str, role: str) -> Extraction:
    """Entities, relations and (for the user's own messages) preferences found in ``text``."""
    found = _Collector()
    is_user = role == "user"
    _extract_entities(text, found, about_user=is_user)
    if is_user:
        _extract_preferences(text, found)
    names = [entity.name for entity in found.entities.values()]
    # Things mentioned together are related; capped so a long list does not explode into pairs.
    if 1 < len(names) <= 6:
        for a, b in combinations(names, 2):
            found.relation(a, "mentioned with", b)
    return Extraction(tuple(found.entities.values()), tuple(found.relations), tuple(found.preferences.values()))
