"""The six crew roles: what each bot is for, whatever team persona dresses it.

A role is the job; a team character (``nanofolks_core.crew.team``) is the costume. Roles are
fixed by the core so every team, room and dispatcher agrees on the same six names.
"""

from __future__ import annotations

import re

import attrs

from nanofolks_core.errors import UsageError


@attrs.frozen(kw_only=True)
class Role:
    """One crew role.

    ``mentions`` are the ``@names`` that reach it besides team character names; ``delegate_when``
    tells the Leader when to hand work over; ``keywords`` are the words in a message that suggest
    this role (see :func:`suggest_specialists`). Which tools a role is offered is up to each tool's
    ``ToolSpec.roles``, plus the Leader's ``delegate`` (``nanofolks_core.pipeline.tool_calls``).
    """

    name: str
    title: str
    mentions: tuple[str, ...] = attrs.field(converter=tuple)
    domain: str
    good_at: tuple[str, ...] = attrs.field(converter=tuple)
    instructions: str
    delegate_when: str = ""
    keywords: tuple[str, ...] = attrs.field(default=(), converter=tuple)

    @property
    def is_leader(self) -> bool:
        return self.name == LEADER


LEADER = "leader"


def _words(text: str) -> tuple[str, ...]:
    """``"code, stack trace"`` -> ``("code", "stack trace")``: keyword lists stay readable."""
    return tuple(word.strip() for word in text.split(",") if word.strip())


_ROLE_LIST = (
    Role(
        name=LEADER,
        title="Leader",
        mentions=("leader", "nanofolks"),
        domain="Coordination: planning, delegation and decisions for the whole crew.",
        good_at=(
            "turning a request into a short plan",
            "picking who on the crew does what",
            "making the call when options conflict",
            "merging the crew's work into one answer",
        ),
        instructions=(
            "Answer simple requests yourself. Delegate work that needs a specialist with a clear brief "
            "(goal, inputs, what done looks like), then combine the results into one reply. "
            "When the crew disagrees, decide and say why. Tell the user the plan, not the plumbing."
        ),
        delegate_when="the request is broad, unclear or needs several specialists",
        keywords=_words(
            "plan, planning, prioritize, prioritise, decide, coordinate, roadmap, strategy, "
            "organize, organise, delegate, next steps"
        ),
    ),
    Role(
        name="researcher",
        title="Researcher",
        mentions=("researcher",),
        domain="Research and analysis: finding, checking and comparing information.",
        good_at=(
            "finding facts and sources",
            "comparing options with pros and cons",
            "market and competitor analysis",
            "summarising long material",
        ),
        instructions=(
            "Say where each fact comes from and flag what is uncertain or may be out of date; prefer "
            "primary sources. Keep findings apart from opinion. Lead with the answer, details after."
        ),
        delegate_when="facts must be found, checked or compared",
        keywords=_words(
            "research, analyze, analyse, analysis, find, compare, comparison, market, data, "
            "statistics, source, sources, competitor, investigate, look up, summarize, summarise, "
            "trends, survey, pros and cons"
        ),
    ),
    Role(
        name="coder",
        title="Coder",
        mentions=("coder",),
        domain="Software: writing, fixing and explaining code.",
        good_at=(
            "writing and refactoring code",
            "debugging errors and stack traces",
            "reading unfamiliar codebases",
            "scripts, automation and APIs",
        ),
        instructions=(
            "Read the existing code before changing it. Make the smallest change that works, run or "
            "test it when you can, and show exact commands. Code goes in fenced blocks; say plainly "
            "what you did not verify."
        ),
        delegate_when="code must be written, fixed, run or explained",
        keywords=_words(
            "code, coding, bug, debug, debugging, function, python, javascript, typescript, rust, "
            "error, exception, stack trace, traceback, script, api, refactor, compile, deploy, sql, "
            "regex, git, crash, install, library, endpoint, database"
        ),
    ),
    Role(
        name="social",
        title="Social",
        mentions=("social",),
        domain="Communication and community: posts, replies and how a message lands with people.",
        good_at=(
            "posts, announcements and newsletters",
            "replies to users and community members",
            "matching tone to audience and platform",
            "spotting how a message could be misread",
        ),
        instructions=(
            "Write for the platform (length limits, hashtags only where they help) and offer an "
            "alternative tone when useful. You draft; the user publishes: never post or send on their "
            "behalf without explicit approval."
        ),
        delegate_when="words must reach people: posts, replies, announcements",
        keywords=_words(
            "tweet, post, announce, announcement, community, reply, social media, linkedin, twitter, "
            "newsletter, audience, followers, engagement, caption, press release, thread, "
            "respond to"
        ),
    ),
    Role(
        name="creative",
        title="Creative",
        mentions=("creative",),
        domain="Ideas and craft: names, design direction, stories and copy.",
        good_at=(
            "brainstorming many distinct options",
            "names, slogans and taglines",
            "stories, scripts and lyrics",
            "visual and brand direction",
        ),
        instructions=(
            "Offer several distinct options, not one, and say which you would pick and why. Respect the "
            "brief's audience, tone and length. Describe visuals so a designer or image tool can use them."
        ),
        delegate_when="ideas, names, stories or design are needed",
        keywords=_words(
            "design, brainstorm, idea, ideas, logo, story, name, naming, slogan, tagline, creative, "
            "poem, brand, branding, mockup, illustration, lyrics, color palette, colour palette, "
            "character, concept"
        ),
    ),
    Role(
        name="auditor",
        title="Auditor",
        mentions=("auditor",),
        domain="Quality: reviewing, testing and checking work against what it must meet.",
        good_at=(
            "code and document review",
            "test cases and edge cases",
            "security, privacy and compliance checks",
            "verifying claims and numbers",
        ),
        instructions=(
            "Check against a stated standard: requirements, tests, law or the user's brief. List findings "
            "by severity, each with evidence and a concrete fix; say what you did not check. Approve "
            "clearly when the work is good."
        ),
        delegate_when="work must be reviewed, tested or checked before it ships",
        keywords=_words(
            "review, check, validate, verify, test, audit, compliance, security, vulnerability, "
            "proofread, qa, quality, gdpr, risk, lint, double-check, fact-check, edge case"
        ),
    ),
)

#: Role name -> Role, in :data:`ROLE_ORDER`.
ROLES: dict[str, Role] = {role.name: role for role in _ROLE_LIST}
#: The six role names, Leader first (display and dispatch order).
ROLE_ORDER: tuple[str, ...] = tuple(ROLES)
#: Every ``@mention`` that names a role (``leader``, ``nanofolks``, ``coder`` ...) -> role name.
ROLE_MENTIONS: dict[str, str] = {mention: role.name for role in _ROLE_LIST for mention in role.mentions}


def get_role(name: str) -> Role:
    """The role called ``name`` (or one of its mentions, with or without ``@``; any case).

    :raises UsageError: naming the valid roles when there is no such role.
    """
    key = name.strip().lstrip("@").lower()
    role_name = ROLE_MENTIONS.get(key, key)
    if role_name not in ROLES:
        raise UsageError(f"there is no role {name!r}; the roles are: {', '.join(ROLE_ORDER)}")
    return ROLES[role_name]


def _keyword_pattern(keywords: tuple[str, ...]) -> re.Pattern[str]:
    # Whole words only ("test" must not match "testament"); a plural "s"/"es" is allowed.
    alternatives = "|".join(re.escape(word).replace(r"\ ", r"\s+") for word in sorted(keywords, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])({alternatives})(?:s|es)?(?![\w-])", re.IGNORECASE)


_PATTERNS = {role.name: _keyword_pattern(role.keywords) for role in _ROLE_LIST}


def keyword_hits(text: str) -> dict[str, int]:
    """For each role, how many distinct intent keywords of that role ``text`` contains (zeros left out)."""
    hits: dict[str, int] = {}
    for role_name, pattern in _PATTERNS.items():
        found = {re.sub(r"\s+", " ", match.lower()) for match in pattern.findall(text)}
        if found:
            hits[role_name] = len(found)
    return hits


def suggest_specialists(text: str) -> list[str]:
    """Specialist roles (not the Leader) whose intent keywords appear in ``text``.

    Ranked by the number of distinct keywords matched, ties in :data:`ROLE_ORDER`. An empty
    list means no specialist stands out: the Leader handles the message.
    """
    hits = keyword_hits(text)
    specialists = [name for name in ROLE_ORDER if name != LEADER and name in hits]
    return sorted(specialists, key=lambda name: -hits[name])
