"""A labelled set of long multi-session conversations for measuring memory recall.

Deterministic (a seeded generator, no files to download): ``conversations(count, sessions)``
builds that many users' chat histories with their assistant, each spread over ``sessions``
dated sessions of ~25 turns. Facts about the user's life (people, pets, trips, appointments,
purchases, likes and dislikes, moves) are said once, in passing, between chit-chat and
hard distractors (the same names and places in other contexts), and the assistant answers
each turn. Every question is labelled with the ids of the turns that answer it, and with its
kind:

* ``lexical``: shares a rare word with the evidence ("the place on Harbour Lane").
* ``semantic``: a paraphrase sharing no content word with it ("What animal did I bring home?").
* ``entity``: about a person, answered by every turn that mentions them.
* ``temporal``: asks *when*; the answer is the date of the session the turn was said in.

Used by ``tests/bench/bench_recall.py`` (the full set) and by the recall regression test
(a small set). Changing templates changes the figures in docs/performance.md.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import attrs

NAMES = """Priya Marta Jonas Elif Tomasz Aiko Mateo Sofia Kwame Ingrid Ravi Lucia Bram Nadia Oskar Chiara Dmitri
Amara Felix Hana Luca Zeynep Emil Rosa Tariq Greta Yusuf Leila Anton Mei Diego Freya Idris Noor Kasper Alma""".split()
RELATIONS = {  # the word the user says -> how a question says it without that word
    "sister": "female sibling",
    "brother": "male sibling",
    "coworker": "colleague",
    "neighbour": "the person living next door",
    "best friend": "closest friend",
    "boss": "manager",
    "roommate": "flatmate",
    "cousin": "relative",
    "aunt": "parent's sister",
    "mentor": "adviser",
}
JOBS = [
    ("nurse", "hospital"),
    ("architect", "design studio"),
    ("data analyst", "insurance firm"),
    ("pastry chef", "bakery"),
    ("physiotherapist", "sports clinic"),
    ("teacher", "primary school"),
    ("software tester", "games company"),
    ("lawyer", "law firm"),
    ("pilot", "airline"),
    ("florist", "flower shop"),
]
CITIES = """Lisbon Porto Valencia Ljubljana Krakow Tbilisi Oaxaca Hanoi Marrakesh Bergen Tallinn Seville Bologna
Dubrovnik Cusco Kyoto Galway Antwerp Salzburg Montreal""".split()
EVENTS = [
    ("a jazz festival", "the jazz festival"),
    ("my cousin's wedding", "the wedding"),
    ("a data science conference", "the conference"),
    ("a half marathon", "the half marathon"),
    ("a pottery workshop", "the pottery workshop"),
    ("a climbing trip", "the climbing trip"),
    ("a food market tour", "the food tour"),
    ("an opera premiere", "the opera"),
]
PETS = [
    ("beagle puppy", "dog", "Biscuit"),
    ("tabby kitten", "cat", "Miso"),
    ("grey parrot", "bird", "Kiwi"),
    ("dwarf rabbit", "rabbit", "Clover"),
    ("border collie", "dog", "Pepper"),
    ("siamese cat", "cat", "Tofu"),
]
PET_QUESTIONS = {
    "dog": "What kind of animal did we bring home?",
    "cat": "Which animal joined our household?",
    "bird": "What animal did we get as a companion?",
    "rabbit": "Which animal did we take in?",
}
FOODS = ["olives", "coriander", "blue cheese", "mushrooms", "licorice", "oysters", "beetroot", "anchovies"]
HOBBIES = [
    ("watercolour painting", "making art"),
    ("bouldering", "a sport"),
    ("sourdough baking", "making bread"),
    ("learning Portuguese", "studying a language"),
    ("playing the cello", "making music"),
    ("birdwatching", "spending time outdoors"),
]
ITEMS = [
    ("e-bike", "bicycle", "Cowboy", "C4"),
    ("espresso machine", "coffee maker", "Gaggia", "Classic"),
    ("laptop", "computer", "Framework", "13"),
    ("camera", "photo gear", "Fujifilm", "X-T5"),
    ("standing desk", "office furniture", "Fezibo", "Pro"),
    ("tent", "camping gear", "Nordisk", "Halland"),
]
STREETS = ["Harbour Lane", "Mill Street", "Kings Road", "Rue Oberkampf", "Calle Luna", "Elm Row", "Canal Walk"]
RESTAURANTS = ["Casa Amarela", "The Copper Pot", "Noodle Bar Tam", "Little Fig", "Osteria Nove", "Blue Lantern"]
APPOINTMENTS = [
    ("dentist", "get my teeth looked at"),
    ("eye doctor", "have my eyesight checked"),
    ("tax adviser", "go over my finances"),
    ("vet", "take the pet for a check-up"),
    ("physio", "have my back treated"),
]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]

CHITCHAT_USER = [
    "Morning! How's it going?",
    "Can you help me write an email to my landlord about the heating?",
    "What's a good recipe for banana bread?",
    "Thanks, that helps a lot.",
    "Haha, fair enough.",
    "Can you explain how compound interest works?",
    "Give me three ideas for a rainy Sunday.",
    "I'm so tired today, work was a lot.",
    "What's the difference between a latte and a flat white?",
    "Remind me what we talked about last time?",
    "Could you shorten that a bit?",
    "Ok, let's move on.",
    "How do I get red wine out of a carpet?",
    "Suggest a podcast about history.",
    "What's a polite way to decline a meeting?",
    "I need a packing list for a weekend away.",
    "Do you think I should repaint the kitchen?",
    "Tell me a fun fact.",
    "Good night!",
    "Can you summarise the news in one line?",
    "How long should I boil an egg?",
]
CHITCHAT_ASSISTANT = [
    "Happy to help! Here is a short plan you can follow step by step.",
    "Sure, here's a concise version.",
    "That sounds like a lot. Be kind to yourself tonight.",
    "Good question! In short, it depends on your goals.",
    "Here are a few ideas you might enjoy.",
    "Of course. Let me know if you want more detail.",
    "Got it. Anything else on your mind?",
    "I'd suggest starting small and seeing how it feels.",
]
# Hard distractors: the same names and places, in turns that answer none of the questions.
# Near misses: the same kind of fact about someone else, or not (yet) true. Slots: name, other,
# city, job, event, food, item, appointment, species, hobby, restaurant.
NEAR_MISSES = [
    "{other}'s friend is thinking about becoming a {job}, no idea if it's a good fit.",
    "Sometimes I wonder whether I should have trained as a {job} myself.",
    "{other} went to {event} in {city} last year and still talks about it.",
    "I'd love to go to {event} someday, maybe next year.",
    "Thinking about booking {event} again but tickets are pricey.",
    "I really need to book a {appointment} appointment at some point, I keep putting it off.",
    "{other} had a {appointment} appointment today and came back grumpy.",
    "{other} absolutely loves {food}, they put it on everything.",
    "Do you have a recipe idea that uses {food}? Asking for {other}.",
    "Thinking about buying a {item} but they're so expensive.",
    "{other} just bought a {item} too, we keep comparing notes.",
    "{other}'s {species} keeps barking at the neighbours all night.",
    "I've always wanted a pet, maybe a {species} one day.",
    "{other} is really into {hobby} these days.",
    "Maybe I should try {hobby}, everyone seems to love it.",
    "{other} is moving flats next month, the third time this year.",
    "{other} said {restaurant} was overrated, so we went somewhere else.",
    "My old job was so different from what {other} does now.",
    "Work is crazy, I might need a holiday in {city}.",
    # The very shape of a fact that is asked about, about someone or somewhere else.
    "My {rel} {other} just started a new job as a {job} at a {place}.",
    "Big news: {other} is moving to {city} in the spring, they found a flat already.",
    "Just got back from {event} in {city} last weekend, exhausting but fun.",
    "{other} recommended {restaurant}, a small place on {street} with great pasta.",
    "I booked an appointment with the {appointment} for {other} on {weekday}, they can't drive.",
    "{other} finally bought a {item}, a {brand} after months of comparing.",
    "{other} tried {hobby} on Saturday and loved it.",
    "{other}'s birthday dinner is on {weekday}, I already got a present.",
    "{other} and I grabbed lunch near the office.",
    "{other} is stressed about a deadline this week.",
    "I lent {other} my umbrella and never got it back.",
    "{other} keeps talking about getting a new phone.",
    "Had a long call with {other} about nothing in particular.",
    "{other}'s car broke down again.",
    "{other} asked what I'm up to this weekend.",
    "{other} recommended a podcast, I haven't started it.",
]
NOISE_USER = [
    "{name} sent me a really funny meme today.",
    "I keep seeing ads for flights to {city}.",
    "Watched a documentary about {city} last night, the architecture looked stunning.",
    "{name} says hi, by the way.",
    "I need to text {name} back, I keep forgetting.",
    "The weather in {city} looks rainy all week according to my app.",
    "My {rel} keeps sending me podcasts I never listen to.",
    "Someone at work just got back from {city}.",
]


# Real turns ramble: most user turns wrap what they say in other talk, which blurs a sentence
# embedding (one vector for several topics) while keeping the fact's own words.
OPENERS = [
    "Ugh, what a week.",
    "Quick update before I forget:",
    "So, random thing:",
    "Okay so guess what?",
    "Morning! Still half asleep here.",
    "Not sure if I told you already:",
    "Long day at work again.",
    "Sorry, I've been all over the place lately.",
    "Anyway, changing the subject completely.",
    "I was just thinking about the weekend.",
    "Haha okay, so",
]
CLOSERS = [
    "Anyway, did you see the match last night?",
    "Also I still need to sort out my taxes, ugh.",
    "Remind me to call my landlord about the boiler.",
    "The weather has been awful all week by the way.",
    "I should really go to bed earlier.",
    "Also I've been binge-watching a cooking show, it's so addictive.",
    "My phone battery keeps dying, I need a new one.",
    "Work has been hectic with the quarterly review.",
    "I also need to plan groceries for the week.",
    "What do you think?",
    "Anyway, how are you?",
]


def article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def ramble(rng: random.Random, text: str) -> str:
    """``text`` with a chatty opener and/or closer, the way people actually write."""
    roll = rng.random()
    if roll < 0.3:
        return text
    opener = rng.choice(OPENERS) + " " if roll < 0.75 else ""
    closer = " " + rng.choice(CLOSERS) if roll > 0.5 else ""
    return f"{opener}{text}{closer}"


@attrs.frozen
class Turn:
    id: str
    role: str
    text: str
    ts: float


@attrs.frozen
class Question:
    text: str
    kind: str  # lexical | semantic | entity | temporal
    evidence: tuple[str, ...]


@attrs.frozen
class Conversation:
    name: str
    turns: tuple[Turn, ...]
    questions: tuple[Question, ...]


class _Builder:
    def __init__(self, index: int, sessions: int, seed: int) -> None:
        self.rng = random.Random(seed * 1000 + index)
        self.name = f"conv{index}"
        self.sessions: list[list[tuple[str, str, str | None]]] = [[] for _ in range(sessions)]
        self.questions: list[tuple[str, str, list[str]]] = []
        self.people: dict[str, list[str]] = {}
        self._keys = 0

    def key(self) -> str:
        self._keys += 1
        return f"k{self._keys}"

    def say(self, session: int, text: str, reply: str | None = None, people: tuple[str, ...] = ()) -> str:
        """A user turn (and the assistant's answer) in ``session``; returns a key the evidence refers to."""
        key = self.key()
        self.sessions[session].append((key, ramble(self.rng, text), reply))
        for person in people:
            self.people.setdefault(person, []).append(key)
        return key

    def ask(self, text: str, kind: str, *keys: str) -> None:
        self.questions.append((text, kind, list(keys)))


def _facts(b: _Builder, n_sessions: int) -> None:
    rng = b.rng
    names = rng.sample(NAMES, 10)
    cities = rng.sample(CITIES, 10)
    rels = rng.sample(list(RELATIONS), 5)

    def session() -> int:
        return rng.randrange(n_sessions)

    for person, rel in zip(names[:5], rels, strict=True):
        job, place = rng.choice(JOBS)
        first = session()
        key = b.say(
            first,
            f"My {rel} {person} just started a new job as a {job} at a {place}.",
            f"Congratulations to {person}! Starting as a {job} is a big step.",
            (person,),
        )
        b.ask(f"What does {person} do for a living?", "lexical", key)
        b.ask(f"What is my {RELATIONS[rel]}'s new occupation?", "semantic", key)
        city = cities.pop()
        later = rng.randrange(first, n_sessions)
        move = b.say(
            later,
            f"Big news: {person} is moving to {city} in the autumn, I'll miss having them around.",
            f"That's bittersweet. {city} is lovely though, you'll have a reason to visit!",
            (person,),
        )
        b.ask(f"Where is {person} relocating to?", "lexical", move)
        hobby, _ = rng.choice(HOBBIES)
        extra = b.say(
            session(),
            f"{person} and I tried {hobby} together on Saturday, we were both terrible at it.",
            "That sounds like fun, even if it didn't go perfectly!",
            (person,),
        )
        b.ask(f"What do I know about {person}?", "entity", key, move, extra)
        b.ask(f"What's new with {person} lately?", "entity", key, move)
    species, kind, pet = rng.choice(PETS)
    adopted = session()
    key = b.say(
        adopted,
        f"We adopted a {species} this weekend and named her {pet}!",
        f"Welcome home, {pet}! How is she settling in?",
    )
    b.ask(PET_QUESTIONS.get(kind, "What animal did we bring home?"), "semantic", key)
    b.ask(f"Who is {pet}?", "lexical", key)
    vet = b.say(
        rng.randrange(adopted, n_sessions),
        f"{pet} has been sneezing a lot, I'm a bit worried.",
        "Keep an eye on her and call the vet if it lasts more than a couple of days.",
    )
    b.ask(f"Has {pet} been unwell?", "lexical", vet)
    asked_events = rng.sample(EVENTS, 3)
    for event, short in asked_events:
        city = cities.pop()
        key = b.say(
            session(),
            f"Just got back from {event} in {city} yesterday, it was amazing.",
            "Welcome back! What was the highlight?",
        )
        b.ask(f"When did I go to {short}?", "temporal", key)
        b.ask(f"Which city was {short} in?", "lexical", key)
    city = cities.pop()
    weekday = rng.choice(WEEKDAYS)
    trip = b.say(
        session(),
        f"I'm flying to {city} next {weekday} for a work meeting, my first time there.",
        f"Safe travels! I hope the meeting in {city} goes well.",
    )
    b.ask(f"When am I travelling to {city}?", "temporal", trip)
    b.ask("Where is my upcoming business trip?", "semantic", trip)
    asked_appointments = rng.sample(APPOINTMENTS, 2)
    for appointment, paraphrase in asked_appointments:
        weekday, hour = rng.choice(WEEKDAYS), rng.randrange(8, 17)
        key = b.say(
            session(),
            f"I booked {article(appointment)} {appointment} appointment for {weekday} at {hour}:00.",
            "Noted, I'll keep that in mind.",
        )
        b.ask(f"When is my {appointment} appointment?", "temporal", key)
        b.ask(f"When do I {paraphrase}?", "semantic", key)
    food = rng.choice(FOODS)
    key = b.say(
        session(),
        f"Honestly I can't stand {food}, it's the texture more than the taste.",
        "Noted, I'll skip it in any recipe ideas.",
    )
    b.ask("Which ingredient do I really dislike?", "semantic", key)
    b.ask(f"Do I like {food}?", "lexical", key)
    hobby, paraphrase = rng.choice(HOBBIES)
    key = b.say(
        session(),
        f"I've been doing {hobby} every morning before work, it's become my favourite routine.",
        "What a lovely way to start the day.",
    )
    b.ask(f"What do I do each day before heading to my job? Is it {paraphrase}?", "semantic", key)
    item, paraphrase, brand, model = rng.choice(ITEMS)
    key = b.say(
        session(),
        f"I finally bought the {item}, a {brand} {model}, after months of comparing.",
        f"Enjoy the new {item}! The {brand} has great reviews.",
    )
    b.ask(f"What brand is my new {paraphrase}?", "semantic", key)
    b.ask(f"Which {item} did I buy?", "lexical", key)
    street, restaurant = rng.choice(STREETS), rng.choice(RESTAURANTS)
    friend = names[5]
    key = b.say(
        session(),
        f"{friend} recommended {restaurant}, a small place on {street} with amazing dumplings.",
        "I'd love to hear how it is if you go!",
        (friend,),
    )
    b.ask(f"What was the name of the place on {street}?", "lexical", key)
    b.ask(f"Where did {friend} suggest we eat?", "entity", key)
    birthday_person = names[6]
    weekday = rng.choice(WEEKDAYS)
    key = b.say(
        session(),
        f"{birthday_person}'s birthday party is on {weekday}, I still need a present.",
        "Maybe something related to a hobby they love?",
        (birthday_person,),
    )
    b.ask(f"When is {birthday_person}'s birthday party?", "temporal", key)
    # Hard distractors: names, places and the same kinds of facts, where they answer nothing.
    others = names[5:]
    other_events = [event for event, _ in EVENTS if (event, _) not in asked_events]
    other_rels = [rel for rel in RELATIONS if rel not in rels]
    other_streets = [name for name in STREETS if name != street]
    for _ in range(max(12, 8 * n_sessions)):
        # Never the same event, street or relative as an asked fact: that would make a second right answer.
        slots = {
            "other": rng.choice(others),
            "name": rng.choice(names),
            "city": rng.choice(CITIES),
            "job": rng.choice(JOBS)[0],
            "event": rng.choice(other_events),
            "food": rng.choice(FOODS),
            "item": rng.choice(ITEMS)[0],
            "appointment": rng.choice(APPOINTMENTS)[0],
            "species": rng.choice(PETS)[1],
            "hobby": rng.choice(HOBBIES)[0],
            "restaurant": rng.choice(RESTAURANTS),
            "rel": rng.choice(other_rels),
            "place": rng.choice(JOBS)[1],
            "street": rng.choice(other_streets),
            "weekday": rng.choice(WEEKDAYS),
            "brand": rng.choice(ITEMS)[2],
        }
        b.say(session(), rng.choice(NEAR_MISSES).format(**slots), rng.choice(CHITCHAT_ASSISTANT))
    for _ in range(max(6, 3 * n_sessions)):
        text = rng.choice(NOISE_USER).format(name=rng.choice(names), city=rng.choice(CITIES), rel=rng.choice(rels))
        b.say(session(), text, rng.choice(CHITCHAT_ASSISTANT))


def _build(index: int, n_sessions: int, turns_per_session: int, seed: int) -> Conversation:
    b = _Builder(index, n_sessions, seed)
    _facts(b, n_sessions)
    rng = b.rng
    start = datetime(2025, 1, 6, 18, 0, tzinfo=UTC) + timedelta(days=rng.randrange(60))
    turns: list[Turn] = []
    ids: dict[str, str] = {}
    when = start
    for number, said in enumerate(b.sessions):
        when = when + timedelta(days=rng.randrange(3, 12), minutes=rng.randrange(-90, 90))
        pairs = list(said)
        while len(pairs) * 2 < turns_per_session:
            pairs.append((None, rng.choice(CHITCHAT_USER), rng.choice(CHITCHAT_ASSISTANT)))
        rng.shuffle(pairs)
        minute = 0
        for key, text, reply in pairs:
            turn_id = f"{b.name}-s{number}-t{len(turns)}"
            turns.append(Turn(turn_id, "user", text, (when + timedelta(minutes=minute)).timestamp()))
            if key is not None:
                ids[key] = turn_id
            if reply is not None:
                turns.append(
                    Turn(f"{turn_id}a", "assistant", reply, (when + timedelta(minutes=minute + 1)).timestamp())
                )
            minute += 2
    questions = tuple(Question(text, kind, tuple(ids[key] for key in keys)) for text, kind, keys in b.questions)
    return Conversation(b.name, tuple(turns), questions)


def conversations(
    count: int = 6, sessions: int = 12, turns_per_session: int = 40, seed: int = 12
) -> list[Conversation]:
    """``count`` users' conversations, each over ``sessions`` dated sessions (deterministic for a seed)."""
    return [_build(index, sessions, turns_per_session, seed) for index in range(count)]


def iter_questions(items: list[Conversation]) -> Iterator[tuple[Conversation, Question]]:
    for conversation in items:
        for question in conversation.questions:
            yield conversation, question
