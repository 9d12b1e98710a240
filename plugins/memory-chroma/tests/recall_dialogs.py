"""A harder labelled set: two named people talking over many dated sessions, weeks apart.

Deterministic (seeded, nothing to download): ``dialogs(count, sessions)`` builds that many
conversations between two friends. Unlike ``recall_conversations.py`` (a user and an assistant),
the facts here are said the way people talk:

* the speaker's name is never in the turn: it is the turn's speaker (recorded as ``bot``);
* times are relative ("yesterday", "last weekend"): the session date says when;
* the other speaker uses the same words in other contexts (hard distractors: "I'd love to go
  to Kyoto some day" from the one who did not go), and chit-chat reuses the facts' vocabulary;
* a follow-up often leaves the topic to the previous turn ("How was Kyoto?" / "Amazing, I
  brought back a tea set").

Question kinds: ``temporal`` (when did <name> ...), ``paraphrase`` (few words shared with the
evidence), ``entity`` (names a person or place), ``multihop`` (2-3 evidence turns, sessions
apart). Conversations with an even index are the dev half, odd the test half.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import attrs

PEOPLE = """Maya Joel Ines Tobias Wren Dario Selin Arjun Nell Kofi Lotte Ravi Yara Finn Olu Greta Sami Ilse Mateus Hiro
Zara Linus Ada Bruno""".split()
RELATIVES = ["sister", "brother", "cousin", "aunt", "uncle", "grandmother", "neighbour", "old roommate"]
RELATIVE_NAMES = """Lena Marco Priya Tomas Elsie Hugo Anouk Rafael Dilys Kenji Beatriz Osman Ruth Levi Clara
Emeka""".split()
ACTIVITIES = [  # what the speaker says, the noun for a question, a paraphrase of it
    ("went to a salsa class", "salsa class", "dance lesson"),
    ("ran a charity 10k", "charity run", "fundraising race"),
    ("went to a pottery workshop", "pottery workshop", "ceramics session"),
    ("saw a jazz concert at the Blue Note", "jazz concert", "live music show"),
    ("volunteered at the animal shelter", "animal shelter", "rescue centre for pets"),
    ("went to a board game night", "board game night", "tabletop evening"),
    ("took a cooking class on Thai food", "cooking class", "culinary course"),
    ("went to a climbing gym for the first time", "climbing gym", "bouldering hall"),
    ("gave a talk at a meetup", "meetup", "community presentation"),
    ("went camping by the lake", "camping trip", "night outdoors in a tent"),
    ("went to a book club meeting", "book club", "reading group"),
    ("did a photography walk", "photography walk", "photo excursion"),
]
RELATIVE_TIMES = ["Yesterday", "Last weekend", "Last Friday", "Two days ago", "Last week", "On Saturday"]
JOBS = [  # said, a question's paraphrase
    ("I started a new job as a nurse on the night shift at the children's hospital", "work in healthcare"),
    ("I got hired as a junior architect at a small studio downtown", "design buildings"),
    ("I'm teaching maths at the secondary school now", "work in education"),
    ("I finally quit the bank and opened my own bakery", "run a business"),
    ("I'm working as a sound engineer for a theatre company", "work behind the scenes in the arts"),
    ("I joined a startup as their first accountant", "handle money for a company"),
]
PETS = [  # said, kind, question paraphrase
    ("we adopted a beagle from the shelter, he's called Biscuit", "Biscuit", "What animal joined {a}'s family?"),
    ("we brought home a tabby kitten, her name is Miso", "Miso", "Which animal did {a} take in?"),
    ("I got a grey parrot named Kiwi, he already whistles", "Kiwi", "What creature did {a} recently get?"),
    ("we rescued a border collie and named her Pepper", "Pepper", "Which four-legged companion came home with {a}?"),
]
DISLIKES = [  # said, question
    ("I can't stand coriander, it tastes like soap to me", "Which herb does {a} hate?"),
    ("honestly horror films give me nightmares for weeks", "What kind of movies does {a} avoid?"),
    ("I get seasick on every ferry, so boats are a no for me", "Why won't {a} travel by sea?"),
    ("crowded malls make me so anxious I have to leave", "What sort of places make {a} uncomfortable?"),
]
CITIES = """Kyoto Lisbon Reykjavik Marrakesh Oaxaca Tallinn Hanoi Bergen Seville Cusco Galway Tbilisi""".split()
SOUVENIRS = ["a hand-painted tea set", "a wool blanket", "a small rug", "a leather notebook", "a ceramic bowl", "tea"]
KID_THINGS = [  # three times across sessions: what has <name> done with the kids?
    "took the kids to the aquarium and they loved the jellyfish",
    "built a treehouse with the kids in the garden",
    "baked cookies with the kids for the school fair",
    "went strawberry picking with the kids",
    "taught the kids how to ride bikes in the park",
]
CHITCHAT = [
    "Hey! How's your week going?",
    "Pretty busy, work has been a lot lately.",
    "Same here, I barely had time to cook.",
    "Did you watch anything good recently?",
    "Not really, I keep falling asleep on the sofa.",
    "The weather has been awful, rain every day.",
    "I need a holiday so badly.",
    "Haha, tell me about it.",
    "We should get coffee soon.",
    "I've been trying to read more before bed.",
    "My phone battery is dying all the time.",
    "Did you see the news about the new tram line?",
    "I'm thinking of learning to cook Thai food at some point.",
    "The kids have been driving me crazy this week.",
    "My sister keeps sending me memes at 2am.",
    "I want to travel somewhere warm this winter.",
    "Work trip coming up, not excited about the flights.",
    "I love live music, we should find a concert.",
    "My neighbour's dog barks all night.",
    "Camping sounds fun but I hate bugs.",
    "I keep meaning to sign up for a class of some kind.",
    "How's the family?",
    "All good, thanks for asking!",
    "That's hilarious.",
    "Oh no, that sounds stressful.",
    "Honestly I just want a quiet weekend.",
    "Have you been to any good restaurants lately?",
    "Not yet, but I heard the new ramen place is good.",
    "I'm so tired, I could sleep for a week.",
    "Let's catch up properly soon.",
]
REPLIES = ["That sounds amazing!", "Oh wow, how was it?", "No way, tell me more!", "That's so cool.", "Nice!"]
FOLLOW_UPS = [
    "It was great, I'd do it again.",
    "Honestly better than I expected.",
    "A bit tiring but really fun.",
    "Loved every minute of it.",
]


@attrs.frozen
class Turn:
    id: str
    speaker: str
    role: str  # the first speaker "user", the second "assistant" (how the bench records them)
    text: str
    ts: float


@attrs.frozen
class Question:
    text: str
    kind: str  # temporal | paraphrase | entity | multihop
    evidence: tuple[str, ...]


@attrs.frozen
class Dialog:
    name: str
    speakers: tuple[str, str]
    turns: tuple[Turn, ...]
    questions: tuple[Question, ...]


def chatty(rng: random.Random, text: str) -> str:
    """``text`` between one or two lines of small talk (most of the time): real turns mix topics,
    which blurs a sentence embedding of the whole turn more than it blurs keywords."""
    roll = rng.random()
    before = rng.choice(CHITCHAT) + " " if roll < 0.6 else ""
    after = " " + rng.choice(CHITCHAT) if roll > 0.4 else ""
    return f"{before}{text}{after}"


class _Builder:
    def __init__(self, name: str, speakers: tuple[str, str], rng: random.Random, n_sessions: int) -> None:
        self.name, self.speakers, self.rng = name, speakers, rng
        start = datetime(2023, 1, 9, 18, 0, tzinfo=UTC) + timedelta(days=rng.randrange(300))
        self.dates = []
        for _ in range(n_sessions):
            self.dates.append(start)
            start += timedelta(days=rng.randrange(6, 24), hours=rng.randrange(-3, 4))
        self.sessions: list[list[tuple[str, str, str | None]]] = [[] for _ in range(n_sessions)]  # speaker, text, key
        self.questions: list[tuple[str, str, tuple[str, ...]]] = []  # text, kind, keys
        self.keys = 0

    def say(self, session: int, speaker: str, text: str, *, reply: str | None = None, follow: str | None = None) -> str:
        """A block of turns in ``session`` (kept together); returns the key of the evidence turn."""
        self.keys += 1
        key = f"k{self.keys}"
        other = self.speakers[1 - self.speakers.index(speaker)]
        block = [(speaker, chatty(self.rng, text), key)]
        if reply:
            block.append((other, reply, None))
        if follow:
            block.append((speaker, follow, None))
        self.sessions[session].append(block)  # type: ignore[arg-type]
        return key

    def ask(self, text: str, kind: str, *keys: str) -> None:
        self.questions.append((text, kind, keys))


def _facts(b: _Builder, person: str, other: str, sessions: int) -> None:
    rng = b.rng
    pick = lambda: rng.randrange(sessions)  # noqa: E731
    for verb, noun, paraphrase in rng.sample(ACTIVITIES, 7):
        when = rng.choice(RELATIVE_TIMES)
        key = b.say(pick(), person, f"{when} I {verb}!", reply=rng.choice(REPLIES), follow=rng.choice(FOLLOW_UPS))
        b.say(pick(), other, f"I've always wanted to try a {noun} but never found the time.")  # distractor
        if rng.random() < 0.7:
            b.ask(f"When did {person} go to the {noun}?", "temporal", key)
        else:
            b.ask(f"When did {person} attend a {paraphrase}?", "temporal", key)
    job, job_q = rng.choice(JOBS)
    b.ask(f"Does {person} {job_q}?", "paraphrase", b.say(pick(), person, f"Big news: {job}.", reply="Congrats!!"))
    pet, pet_name, pet_q = rng.choice(PETS)
    key = b.say(pick(), person, f"Guess what, {pet}!", reply="So cute, send pictures!")
    b.ask(pet_q.format(a=person), "paraphrase", key)
    dislike, dislike_q = rng.choice(DISLIKES)
    b.ask(dislike_q.format(a=person), "paraphrase", b.say(pick(), person, f"Ugh, {dislike}."))
    # A relative named twice, sessions apart: "what do we know about <name>?"
    relative, relative_name = rng.choice(RELATIVES), rng.choice(RELATIVE_NAMES)
    first, second = sorted(rng.sample(range(sessions), 2))
    city = rng.choice(CITIES)
    k1 = b.say(first, person, f"My {relative} {relative_name} is moving to {city} next month.", reply="Big change!")
    k2 = b.say(second, person, f"{relative_name} finally settled in and loves the new flat.", reply="Glad to hear.")
    b.ask(f"Where did {person}'s {relative} move to?", "entity", k1)
    b.ask(f"How is {relative_name} doing after the move?", "entity", k2)
    # A trip, then a follow-up sessions later that names neither the city nor the trip.
    city2 = rng.choice([c for c in CITIES if c != city])
    souvenir = rng.choice(SOUVENIRS)
    go, back = sorted(rng.sample(range(sessions), 2))
    if go == back:
        back = min(go + 1, sessions - 1)
    k_go = b.say(go, person, f"I'm flying to {city2} next week, first time there!", reply="Jealous! Have fun.")
    b.say(pick(), other, f"I'd love to visit {city2} some day.")  # distractor by the other speaker
    b.sessions[back].append([(other, f"Welcome back! How was {city2}?", None)])
    k_back = b.say(back, person, f"Amazing, I brought back {souvenir} for the living room.")
    # the question goes to the second key; the previous turn names the city
    b.sessions[back][-2:] = [b.sessions[back][-2] + b.sessions[back][-1]]
    b.ask(f"What did {person} bring home from the trip to {city2}?", "multihop", k_go, k_back)
    b.ask(f"Which city did {person} travel to, and when?", "multihop", k_go)
    # Three kid activities over the sessions.
    keys = [b.say(pick(), person, f"{rng.choice(RELATIVE_TIMES)} I {thing}.") for thing in rng.sample(KID_THINGS, 3)]
    b.ask(f"What activities has {person} done with the children?", "multihop", *keys)


def _build(index: int, n_sessions: int, turns_per_session: int, seed: int) -> Dialog:
    rng = random.Random(seed * 1000 + index)
    speakers = tuple(rng.sample(PEOPLE, 2))
    b = _Builder(f"dlg-{index}", speakers, rng, n_sessions)  # type: ignore[arg-type]
    _facts(b, speakers[0], speakers[1], n_sessions)
    _facts(b, speakers[1], speakers[0], n_sessions)
    turns: list[Turn] = []
    ids: dict[str, str] = {}
    for number, blocks in enumerate(b.sessions):
        filler = max(0, turns_per_session - sum(len(block) for block in blocks))
        blocks = blocks + [
            [(speakers[i % 2], " ".join(rng.sample(CHITCHAT, rng.choice((1, 1, 2, 3)))), None)] for i in range(filler)
        ]
        rng.shuffle(blocks)
        ts = b.dates[number].timestamp()
        for block in blocks:
            for speaker, text, key in block:
                turn_id = f"{b.name}-s{number}-t{len(turns)}"
                role = "user" if speaker == speakers[0] else "assistant"
                turns.append(Turn(turn_id, speaker, role, text, ts))
                ts += rng.randrange(20, 120)
                if key:
                    ids[key] = turn_id
    questions = tuple(Question(text, kind, tuple(ids[k] for k in keys)) for text, kind, keys in b.questions)
    return Dialog(b.name, speakers, tuple(turns), questions)  # type: ignore[arg-type]


def dialogs(count: int = 6, sessions: int = 20, turns_per_session: int = 36, seed: int = 7) -> list[Dialog]:
    """``count`` labelled two-person conversations of ``sessions`` dated sessions each."""
    return [_build(index, sessions, turns_per_session, seed) for index in range(count)]
