"""Layer 1: a fast local tier classifier (regular expressions and a few text features).

Each tier collects points from the signals found in the message (code syntax and
programming words for ``coding``, proof and puzzle words for ``reasoning``, analysis and
strategy words for ``complex``, writing tasks for ``medium``, greetings and short fact
questions for ``simple``). The tier with the most points wins; the confidence grows with
the lead over the runner-up: ``margin / (margin + 1)``, so a lead of 1.5 points is 0.6.
No model, no I/O: a message takes well under a millisecond.

@mentions are removed first: who answers is not how hard the question is.
"""

from __future__ import annotations

import re

import attrs

#: Tiers this classifier can answer, and its preference among equal scores (stronger first).
TIERS = ("reasoning", "coding", "complex", "medium", "simple")

_MENTION = re.compile(r"(?<![\w@])@[A-Za-z][\w-]*")
_WORD = re.compile(r"[A-Za-z0-9']+")
_NUMBER = re.compile(r"(?<![\w.])\$?\d[\d,.]*%?k?\b")


def _rx(*patterns: str, ignore_case: bool = True) -> re.Pattern[str]:
    return re.compile(
        "|".join(f"(?:{p})" for p in patterns), re.IGNORECASE | re.MULTILINE if ignore_case else re.MULTILINE
    )


# (tier, points, label, pattern). Labels show up in the decision's reason.
_SIGNALS: list[tuple[str, float, str, re.Pattern[str]]] = [
    # -- coding: code itself is the strongest signal
    ("coding", 4.0, "code block", _rx(r"```")),
    (
        "coding",
        3.5,
        "error trace",
        _rx(
            r"[Tt]raceback \(most recent call last\)",
            r"\b[A-Z][a-zA-Z]+(?:Error|Exception)\b",
            r"\b[Ss]egfault|[Ss]egmentation fault|[Ss]tack ?trace|core dumped",
            r"\b[Ee]rror: ",
            r"\bexits? (?:immediately )?with code \d+",
            r"\bE[A-Z]{4,}\b",  # errno names: EACCES, ENOENT ...
            ignore_case=False,
        ),
    ),
    (
        "coding",
        3.0,
        "code syntax",
        _rx(
            r"\bdef \w+\s*\(",
            r"\bfunction\s*\w*\s*\([^)]*\)\s*\{",
            r"=>",
            r"\bclass \w+\s*[:({]",
            r"^\s*(?:import|from|#include|package|using) [\w.<>]+",
            r"\b(?:int|var|let|const|char|float|double)\s+\w+\s*(?:=|\[|;)",
            r"\bfor\s*\([^)]*;",
            r"\bfor \w+ in (?:range|\w+)\b.*:",
            r"\b(?:select|update|delete)\b[\s\S]{0,80}?\bfrom\b\s+\w+\s+(?:where|join|group|order)\b",
            r"\bcreate table\b",
            r"\w+\.\w+\([^)]*\)",
            r"\b\w+\[\w*\]\s*[;=)]",
            r"\[\s*\w+\s*(?:\*\s*\w+\s*)?for \w+ in ",
            r"\{\s*\*\*\w+",
            r"\b(?:console\.log|printf|println|print)\s*\(",
            r"\^\(\?",
            r"[;{}]\s*$",
        ),
    ),
    (
        "coding",
        2.5,
        "programming language or tool",
        _rx(
            r"\bpython\b",
            r"\bjava(?:script)?\b",
            r"\btypescript\b",
            r"\brust\b(?! ?(?:on|proof|stain|remov))",
            r"\bgolang\b|\bin go\b",
            r"\bc\+\+|\bc#|\bin c\b|\bin c,",
            r"\b(?:sql|mysql|sqlite) (?:query|queries|statement|table)s?\b|\bsql\b",
            r"\bbash\b|\bshell script|\bpowershell\b",
            r"\bregex(?:es)?\b|\bregular expression",
            r"\bcss\b|\bhtml (?:page|element|tag|form)|\bdiv\b",
            r"\bjson\b|\byaml\b",
            r"\bdocker(?:file)?\b|\bkubernetes\b|\bk8s\b|\bcontainer\b",
            r"\bgit\b|\bgithub actions\b|\bpull request\b|\bcommit\b",
            r"\breact\b|\bnode(?:\.js)?\b|\bnpm\b|\bpip\b|\bflask\b|\bfastapi\b|\bdjango\b|\bbeautifulsoup\b",
            r"\bpytest\b|\bunit tests?\b|\btype hints?\b",
        ),
    ),
    (
        "coding",
        2.5,
        "programming task",
        _rx(
            r"\bdebug\b",
            r"\brefactor",
            r"\bimplement (?:an?|the) \w+",
            r"\b(?:write|create|give me|add)\b(?: \w+){0,4} (?:function|script|program|class|method|query|endpoint|api|"
            r"dockerfile|workflow|regex|code|cli|flag)\b",
            r"\bfix (?:this|the|my|an?) (?:bug|error|code|loop|test|function)",
            r"\boff-by-one\b",
            r"\bcompile[sd]?\b|\bthe build\b",
            r"\blinked list\b|\bbinary search tree\b|\blru cache\b|\bquicksort\b|\bconnection pool\b",
            r"\bdatabase schema\b|\bdeployment yaml\b|\bpointer\b",
            r"\bparse json\b|\bscrapes?\b",
        ),
    ),
    # -- reasoning: proofs, puzzles, probability, equations
    (
        "reasoning",
        4.0,
        "proof",
        _rx(
            r"\bprove\b",
            r"\bproof\b",
            r"\bshow that\b",
            r"\bdemonstrate that\b",
            r"\bderive\b|\bderivation\b",
            r"\btheorem\b|\blemma\b",
            r"\bby induction\b",
        ),
    ),
    (
        "reasoning",
        3.5,
        "logic or math problem",
        _rx(
            r"\blogic puzzle\b|\briddle\b|\bpuzzle\b|\bsyllogism\b",
            r"\bargument valid\b|\bis (?:this|the following) (?:argument|syllogism) valid\b",
            r"\bknights?\b.*\bknaves?\b",
            r"\bprobability\b|\bexpected number\b|\bbayes\b|\bmonty hall\b",
            r"\bsolve (?:for|the system|this equation)\b",
            r"\bintegral\b|\bconverges?\b|\bundecidable\b|\buncountable\b|\binjective\b|\bdivisible by\b",
            r"\binteger solutions\b|\bhow many ways\b|\bperfect play\b|\bweighings?\b",
            r"\birrational\b",
        ),
    ),
    (
        "reasoning",
        2.0,
        "careful step-by-step",
        _rx(
            r"\bstep by step\b",
            r"\bshow (?:your|the) (?:steps|work)\b",
            r"\bexplain (?:your|the) reasoning\b|\bjustify\b|\bthink carefully\b",
            r"\bmathematically\b",
            r"\boptimal strategy\b|\bvalid arrangements\b|\bwhen and where\b",
            r"\bhow old is\b|\bhow long would\b",
            r"\b[a-z]\^\d|\b\d+\s*[x*×]\s*\d+\s*=|\b\d*[a-z] [+-] \d*[a-z]? ?= ?\d",
            r"\bmph\b",
            r"\bare all \w+ definitely\b|\btherefore\b",
            r"\bwhere did the missing\b",
        ),
    ),
    # -- complex: analysis, strategy, long structured deliverables
    (
        "complex",
        2.5,
        "analysis",
        _rx(
            r"\banaly[sz](?:e|is|es)\b",
            r"\bdeep dive\b|\bin-depth\b|\bcomprehensive\b|\bthorough\b|\bdetailed\b",
            r"\bcritique\b|\bcritically\b|\bsynthesi[sz]e\b|\binvestigate\b",
            r"\bevaluate\b|\bassess\b|\bexamine\b",
            r"\bswot\b|\brisk (?:assessment|register)\b|\bliterature review\b",
        ),
    ),
    (
        "complex",
        2.0,
        "strategy or planning work",
        _rx(
            r"\bstrateg(?:y|ies)\b|\bbusiness plan\b|\bgo-to-market\b|\bframework\b",
            r"\bfinancial (?:model|projection)|\bbreak-even\b|\btotal cost of ownership\b",
            r"\bcompare\b|\bcomparison\b|\btrade-?offs\b|\bweigh\b",
            r"\brecommend(?:ation)?\b|\bpropose\b|\bprioriti[sz]ed?\b",
            r"\b\d{3,5}-word\b|\breport\b|\bproposal\b|\bpolicy\b|\bcurriculum\b",
            r"\bresearch\b|\bmarket\b|\brestructur",
        ),
    ),
    (
        "complex",
        1.0,
        "multi-part request",
        _rx(r"\bincluding\b|\bcovering\b|\bconsidering\b|\bwith (?:the )?(?:timeline|budget|examples)"),
    ),
    # -- medium: everyday writing and explanations
    (
        "medium",
        2.5,
        "writing task",
        _rx(
            r"\b(?:write|draft|compose|rewrite|proofread|translate|summari[sz]e|outline|paraphrase)\b",
            r"\bhelp me (?:write|reply|plan)\b|\bcome up with\b|\bbrainstorm\b|\bturn these notes\b",
            r"\bmake (?:this|it) (?:shorter|longer|clearer)\b",
        ),
    ),
    (
        "medium",
        2.0,
        "explanation or ideas",
        _rx(
            r"\bexplain\b|\bdescribe\b",
            r"\b(?:ideas?|tips|suggestions?|talking points|conversation starters|recipe|itinerary|checklist|"
            r"to-do list|routine|meal plan|agenda)\b",
            r"\bsuggest\b|\bplan an? \b",
            r"\b(?:email|letter|note|poem|haiku|story|toast|speech|slogan|tweets?|post|bio|reply|message)\b",
            r"\bpros and cons\b|\bwhat should i\b|\bhow do i ask\b|\bwhat are (?:some|the)\b",
        ),
    ),
    # -- simple: small talk and quick facts
    (
        "simple",
        3.0,
        "greeting or acknowledgement",
        _rx(
            r"^\W*(?:hi|hello|hey|yo|howdy|morning|good (?:morning|night|evening|afternoon)|thanks|thank you|"
            r"ok(?:ay)?|cool|nice|great|perfect|sounds good|yes|no|yep|nope|sure|brb|lol|bye|cheers)\b",
            r"^\W*(?:are you there|you around|how are you|what's your name|great work)",
        ),
    ),
    (
        "simple",
        2.0,
        "quick question",
        _rx(
            r"^\W*(?:what(?:'s| is| are| does| day| year| time)|who|when|where|which|how (?:many|much|tall|far|"
            r"long|old|do you say|do you spell)|is (?:it|a|an|the)|are there|can you tell me|define)\b",
        ),
    ),
    (
        "simple",
        2.5,
        "quick action",
        _rx(
            r"\bremind me\b|\bset (?:a|an) (?:timer|alarm|reminder)\b|\bconvert \d",
            r"\btell me a (?:joke|fun fact)\b|\bfun fact\b|\bin one sentence\b",
        ),
    ),
]


@attrs.frozen(kw_only=True)
class Classification:
    """Layer 1's verdict: the tier, how sure (0..1), each tier's points and the signals found."""

    tier: str
    confidence: float
    scores: dict[str, float]
    signals: tuple[str, ...]

    def explain(self) -> str:
        found = ", ".join(self.signals) if self.signals else "no clear signal, judged by length"
        return f"{found} (confidence {self.confidence:.2f})"


class TierClassifier:
    """Scores a message for each tier. Stateless and thread-safe; build once, call often."""

    def classify(self, text: str) -> Classification:
        mentions = [m.group(0).lower() for m in _MENTION.finditer(text)]
        body = _MENTION.sub(" ", text).strip()
        words = _WORD.findall(body)
        scores = dict.fromkeys(TIERS, 0.0)
        signals: list[str] = []
        for tier, points, label, pattern in _SIGNALS:
            if pattern.search(body):
                scores[tier] += points
                signals.append(f"{tier}: {label}")
        self._length_features(body, words, scores, signals)
        if "@coder" in mentions and scores["coding"] > 0:
            scores["coding"] += 0.5  # asking the Coder is a hint, not proof, that this is code
        ranked = sorted(TIERS, key=lambda t: (-scores[t], TIERS.index(t)))
        top, second = scores[ranked[0]], scores[ranked[1]]
        if top == 0:
            # Nothing matched: short messages are chit-chat, longer ones a general task.
            tier = "simple" if len(words) <= 6 else "medium"
            return Classification(tier=tier, confidence=0.4, scores=scores, signals=())
        margin = top - second
        confidence = round(margin / (margin + 1.0), 2)
        return Classification(tier=ranked[0], confidence=confidence, scores=scores, signals=tuple(signals))

    @staticmethod
    def _length_features(body: str, words: list[str], scores: dict[str, float], signals: list[str]) -> None:
        count = len(words)
        if count <= 4:
            scores["simple"] += 1.5
            signals.append("simple: very short")
        elif count <= 9:
            scores["simple"] += 0.75
        elif count >= 35:
            scores["complex"] += 1.0
            signals.append("complex: long message")
        # Many figures in a message that is not code: data to analyse.
        if scores["coding"] == 0 and len(_NUMBER.findall(body)) >= 5:
            scores["complex"] += 1.5
            signals.append("complex: data given")
