"""Offline request classifier: QUICK / COMPLEX / URGENT from the last user turn.

Rules, not a model: the console decides before any provider call, in well under a
millisecond, the same way every time, and can say why. Two independent parts:

* a complexity score in [0, 1] ("needs the strong model"): a weighted sum of hand-designed
  text features, squashed by a logistic. QUICK vs COMPLEX is `complexity >= threshold`.
* urgency evidence: cue phrases (outage, prod errors, "asap", a deadline in minutes) minus
  negations and contexts that only mention urgency (a story, a definition, a runbook).
  URGENT overrides the QUICK/COMPLEX split.

Weights marked "tuned" in FEATURE_WEIGHTS were chosen on one half of the shared
GSM8K/MMLU outcome data; the chat-only weights are hand-set. bench/README.md
has the method and the figures (python bench/classifier_eval.py reproduces them).

Example:
    >>> c = classify("What's 2+2?")
    >>> c.label, c.as_dict()["label"]
    (<Label.QUICK: 'QUICK'>, 'QUICK')
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "DEFAULT_COMPLEX_THRESHOLD",
    "FEATURE_WEIGHTS",
    "URGENT_EVIDENCE_THRESHOLD",
    "Classification",
    "Label",
    "classify",
    "complexity_score",
    "last_user_turn",
]


class Label(StrEnum):
    """Routing class of a request; a str, so it serialises and compares as plain text."""

    QUICK = "QUICK"
    COMPLEX = "COMPLEX"
    URGENT = "URGENT"


@dataclass(frozen=True)
class Classification:
    """What `classify` decided, how sure it is, and the features that fired."""

    label: Label
    confidence: float
    reasons: list[str] = field(default_factory=list)
    complexity: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable form, e.g. for a checkpoint or the usage log."""
        return {
            "label": self.label.value,
            "confidence": self.confidence,
            "reasons": list(self.reasons),
            "complexity": self.complexity,
        }


# Quantile calibration (RouteLLM's method): half of the non-urgent development rows of
# data/labelled_prompts.jsonl are COMPLEX, so the threshold is the midpoint between the two
# middle complexity scores of those rows (0.391 and 0.424 when last measured), rounded.
# bench/classifier_eval.py prints the calibrated value, so drift shows.
DEFAULT_COMPLEX_THRESHOLD = 0.41

# Summed urgency evidence at or above this is URGENT: one explicit cue ("outage", "asap",
# "in 10 minutes") suffices; a failure word needs a production / user-impact word too.
URGENT_EVIDENCE_THRESHOLD = 1.5

# Multiple-choice options add log(chars / this) x weight: a long list of alternatives needs
# careful reading, a short one ("A. Mars B. Jupiter") makes the question easier than asked
# open-ended. 400 chars puts about a third of MMLU above the default threshold, the share
# of MMLU the weak model (Mixtral-8x7B) gets wrong.
_OPTIONS_REFERENCE_CHARS = 400

# Patterns look at this many characters at most, so a pasted 1 MB log stays fast.
_MAX_SCAN_CHARS = 20_000

# Logistic mapping of the summed feature weights to [0, 1]. Only the order matters to the
# router metrics; the centre and scale keep everyday prompts away from the flat tails.
_CENTRE = 3.6
_SCALE = 1.6

# Complexity features: name -> weight in logit units. "tuned": chosen by a coarse grid
# search on the even-hash half of GSM8K+MMLU. The others are hand-set for chat traffic and
# barely fire on those benchmarks.
FEATURE_WEIGHTS: dict[str, float] = {
    "length": 1.0,  # per log(1 + words) of the question, options excluded; the reference scale
    "options": 1.6,  # tuned: per log(chars / 400) of multiple-choice options
    "relational": 0.5,  # tuned: per sqrt(count) of quantities in words or relations ("twice", "than")
    "specialist": 2.0,  # tuned: per sqrt(count) of legal / ethical / formal-logic terms
    "narrative": 0.2,  # tuned: per sqrt(count) of third-person pronouns: a scenario to reason about
    "paired_claims": 0.8,  # tuned: "Statement 1 | ... Statement 2 | ...": two judgements in one
    "recall": -1.2,  # tuned: "is called", "refers to", "stands for": naming, not reasoning
    "items": 0.5,  # per sqrt(count) of bullet / numbered / roman-numeral lines
    "maths": 0.4,  # per sqrt(count), capped: "prove", "calculate", "2+2", "="
    "code_tokens": 0.4,  # per sqrt(count), capped: "def", "=>", "obj.call(", snake_case, camelCase
    "code_block": 1.5,
    "task_verbs": 0.7,  # per distinct verb, capped at three: "write", "design", "compare"
    "deliverables": 0.4,  # per distinct noun, capped at three: "report", "schema", "tests"
    "depth": 0.8,  # capped at two: "step by step", "in depth", "pros and cons"
    "long_output": 1.2,  # "1500 words", "2 pages"
    "short_output": -0.6,  # "in 50 words"
    "questions": 0.4,  # per question mark beyond the first, capped
    "brevity": -1.2,  # "in one word", "briefly", "yes or no"
    "small_talk": -1.2,  # greetings and thanks in a short message
    "short_factual": -0.6,  # a short "what is / who is / convert / translate" question
}

# --- complexity lexicons (lower-case tokens) and patterns --------------------------------
_TOKEN = re.compile(r"[^\W\d_]+")
# Han, kana and Hangul are written without spaces: count two characters as a word.
_CJK_CHAR = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_MC_OPTIONS = re.compile(r"\n[ \t]*\(?[A-D][.)][ \t]")
_RELATIONAL_WORDS = frozenset({
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "fifteen", "twenty", "thirty", "forty", "fifty", "hundred", "hundreds", "dozen", "dozens", "half",
    "halves", "third", "thirds", "quarter", "quarters", "fourth", "fifth", "twice", "thrice", "double",
    "triple", "than",
})
_AS_WHAT = frozenset({"many", "much", "long", "old", "far", "fast"})  # "as many as", "as old as"
_SPECIALIST_WORDS = frozenset({
    "moral", "morally", "ethic", "ethics", "ethical", "ethically", "liable", "liability", "guilty",
    "negligent", "negligence", "plaintiff", "plaintiffs", "defendant", "defendants", "constitutional",
    "constitutionality", "statute", "statutes", "admissible", "inadmissible", "hearsay", "tort",
    "torts", "fallacy", "fallacies", "syllogism", "entail", "entails", "entailment", "counterexample",
})
_NARRATIVE_WORDS = frozenset({"he", "she", "his", "her", "him", "hers", "they", "them", "their"})
_MATHS_WORDS = frozenset({
    "prove", "proof", "derive", "derivation", "solve", "calculate", "compute", "integral",
    "derivative", "equation", "equations", "theorem", "lemma", "probability", "variance", "eigenvalue",
    "eigenvalues", "eigenvector", "optimise", "optimize",
})
_TASK_VERBS = frozenset({
    "write", "draft", "compose", "create", "build", "implement", "design", "architect", "refactor",
    "review", "analyse", "analyze", "compare", "evaluate", "assess", "plan", "propose", "outline",
    "debug", "port", "migrate", "investigate", "prepare", "summarise", "summarize", "explain",
    "produce",
})
_DELIVERABLES = frozenset({
    "report", "essay", "article", "proposal", "guide", "tutorial", "document", "documentation", "spec",
    "specification", "architecture", "strategy", "roadmap", "analysis", "comparison", "tests",
    "script", "program", "function", "class", "module", "schema", "queries", "pipeline", "workflow",
    "dockerfile", "runbook", "postmortem", "requirements", "story", "poem", "assessment",
})
_DELIVERABLE_PAIRS = frozenset(
    {("blog", "post"), ("test", "plan"), ("literature", "review"), ("post", "mortem")}
)
_MATHS_SYMBOLS = re.compile(r"\d\s*[+*/×÷^]\s*\d|\d\s+-\s+\d|[=∫∑√±≤≥]")
_RECALL = re.compile(
    r"\bis (?:called|known as|termed|referred to as|defined as)\b|\brefers? to\b|\bthe term\b|"
    r"\bbest describes\b|\bis an example of\b|\bstands? for\b|\bis (?:the )?(?:name|term|word) for\b"
)
_PAIRED_CLAIMS = re.compile(r"\b(?:statement|scenario|claim|premise) (?:1|one|i) ?[|:]")
_ITEM_LINE = re.compile(r"(?m)^[ \t]*(?:[IVX]+\.|\d{1,2}[.)]|[-*•])[ \t]+\S")
_CODE_BLOCK = re.compile(r"```|~~~")
_CODE_TOKEN = re.compile(
    r"(?m)^[ \t]*(?:def|class|import|from|function|const|let|var|public|private|return|async|"
    r"SELECT|CREATE|INSERT|#include)\b|[{};][ \t]*$|=>|\w\(\)|\w\.\w+\(|[a-z]_[a-z]|[a-z][A-Z]"
)
_DEPTH = re.compile(
    r"\bstep[- ]by[- ]step\b|\bin (?:depth|detail)\b|\bdetailed\b|\bthorough(?:ly)?\b|"
    r"\bcomprehensive\b|\bexhaustive\b|\bpros and cons\b|\btrade-?offs?\b|\bfor and against\b|"
    r"\bworked example\b|\bfrom scratch\b|\bwith (?:reasons|examples|code)\b|\bcarefully\b|"
    r"\b(?:walk (?:me )?|go )through\b|\bdeep[- ]dive\b|\bline by line\b"
)
_OUTPUT_SIZE = re.compile(r"\b(\d[\d,]*)[ -]?(words?|pages?|paragraphs?)\b")
_BREVITY = re.compile(
    r"\bin (?:one|a single|1) (?:word|sentence|line)\b|\bone[- ]liner\b|\bbriefly\b|\bin brief\b|"
    r"\bshort answer\b|\btl;?dr\b|\byes or no\b|\bjust the (?:number|name|command|answer)\b|"
    r"\bquick question\b|\bkeep it short\b|\bin a few words\b"
)
_SMALL_TALK = re.compile(
    r"^\W*(?:hi|hello|hey|yo|thanks|thank you|thx|ty|good (?:morning|afternoon|evening|night)|"
    r"cheers|ok|okay|cool|great|bye|how are you)\b"
)
_SHORT_FACTUAL = re.compile(
    r"^\W*(?:what(?:'s|’s| is| are| was| does| do)|who(?:'s|’s| is| was| wrote)|when (?:was|is|did)|"
    r"where (?:is|was|are)|which|define|how many|how much|how do i|is|are|can|does|convert|"
    r"translate|spell)\b"
)

# --- urgency cues: (reason prefix, weight, trigger tokens, pattern on lower-cased text) --
# A cue's pattern only runs when the text has one of its trigger tokens (set lookups are far
# cheaper than regex scans, and most prompts carry no urgency at all). Every match of a
# pattern contains one of its triggers as a whole token.
_URGENT_CUES: tuple[tuple[str, float, frozenset[str], re.Pattern[str]], ...] = (
    (
        "urgency word",
        2.0,
        frozenset({"outage", "outages", "emergency", "sev", "sev0", "sev1", "p0"}),
        re.compile(r"\boutages?\b|\bemergency\b|\bsev ?-?[01]\b|\bp0\b"),
    ),
    (
        "service down",
        2.0,
        frozenset({"down", "offline", "unreachable", "unresponsive"}),
        re.compile(
            r"(?:\b(?:is|are|was|were|went|goes|gone|been)|'s|’s|'re|’re) (?:completely |totally |"
            r"all |still )?(?:down|offline|unreachable|unresponsive)\b(?! (?:the|a|to|from|by)\b)|"
            r"\b(?:site|space|app|server|service|api|endpoint|prod|production|website|console|cluster|"
            r"database|db|everything) "
            r"(?:is )?(?:down|offline)\b|\bdown for (?:everyone|everybody|all)\b"
        ),
    ),
    (
        "server errors",
        1.5,
        frozenset(f"{code}{s}" for code in (*range(500, 512), *range(520, 531)) for s in ("", "s")),
        re.compile(
            r"(?<![$£€\d.,])\b5\d\d(?:s\b| (?:errors?|from|on|for)\b)|"
            r"\b(?:returning|returns|getting|throwing|serving) (?:an? )?(?:http )?5\d\d\b"
        ),
    ),
    (
        "urgency word",
        1.5,
        frozenset({"urgent", "urgently", "asap", "immediately", "soon", "wait", "hurry", "hotfix", "hot",
                   "blocking", "blocker", "critical"}),
        re.compile(
            r"\burgent(?:ly)?\b(?! (?:requests?|prompts?|tickets?|messages?|tasks?|cases?|ones|"
            r"detection|labels?|class(?:es)?|category|queue|items?|emails?|calls?)\b)|\basap\b|"
            r"\bimmediately\b|\bas soon as possible\b|\b(?:can't|can’t|cannot|can not) wait\b|"
            r"\bhurry\b|\bhot ?-?fix\b|\bblock(?:ing|er)\b|^\W*critical\b|\bcritical (?:bug|"
            r"issue|incident|outage|failure|error|problem)\b"
        ),
    ),
    (
        "urgency word",
        1.5,
        frozenset({"now", "away"}),
        re.compile(
            r"\bright (?:now|away)\b|\b(?:need|stop|fix|kill|help|revert|roll ?back|restart)\b"
            r"[^.?!\n]{0,40}\bnow\b|\bnow ?!"
        ),
    ),
    (
        "deadline",
        1.5,
        frozenset({"min", "mins", "minute", "minutes", "sec", "secs", "seconds", "hour"}),
        # A duration only counts when something is due: "the demo starts in 10 minutes",
        # not "she runs a mile in 16 minutes".
        re.compile(
            r"\b(?:demo\w*|meeting|call|deadline|launch|release|presentation|pitch|interview|due|"
            r"starts?|begins?|need(?:ed)?|before|expires?|runs? out|goes live)\b[^.?!\n]{0,40}?"
            r"(?:\bin (?:\d+|a few|few|five|ten|fifteen|twenty|thirty) ?(?:min(?:ute)?s?|secs?|"
            r"seconds)\b|\bwithin (?:the|an|the next) hour\b)"
        ),
    ),
    (
        "security incident",
        2.0,
        frozenset({"leak", "leaked", "leaking", "breach", "breached", "compromised", "exposed", "other"}),
        re.compile(
            r"\b(?:leak(?:ed|ing)?|breach(?:ed)?|compromised|exposed)\b[^.?!\n]{0,40}\b(?:keys?|"
            r"tokens?|passwords?|secrets?|data|conversations?)\b|\b(?:keys?|tokens?|passwords?|"
            r"secrets?)\b[^.?!\n]{0,30}\b(?:leak(?:ed|ing)?|exposed|compromised)\b|"
            r"\bother (?:users|people)(?:'s|’s|'|’)?[^.?!\n]{0,30}\b(?:conversations?|keys?|data)\b"
        ),
    ),
    (
        "production",
        1.0,
        frozenset({"prod", "production", "live"}),
        re.compile(r"\bprod(?:uction)?\b|\blive (?:app|site|space|users|traffic|demo|endpoint)\b"),
    ),
    (
        "users affected",
        1.0,
        frozenset({"customer", "customers", "user", "users", "visitors", "everyone", "people", "all",
                   "every", "team", "money", "bill", "spent"}),
        re.compile(
            r"\b(?:users?|customers?|visitors|everyone|people) (?:can't|can’t|cannot|are (?:waiting|"
            r"getting|seeing|complaining|hitting|affected|blocked))|\bcustomers? (?:waiting|affected)\b|"
            r"\ball (?:users|visitors|customers|requests|calls|traffic|providers)\b|\bevery (?:request|"
            r"call|chat)\b|\bfor everyone\b|\bwhole team\b|\bburning money\b|\bbill is exploding\b|"
            r"\bspent \$?\d[\d,]* (?:\w+ )?in (?:an|one|the last) hour\b"
        ),
    ),
    (
        "failure",
        0.75,
        frozenset({"broke", "broken", "failing", "fails", "crash", "crashes", "crashed", "crashing",
                   "crashloop", "error", "traceback", "exception", "stuck", "hangs", "timing", "times",
                   "unusable", "working", "responding", "loading", "loads", "alert", "corrupted", "start",
                   "boot", "load", "connect"}),
        re.compile(
            r"\b(?:broke|broken|failing|fails|crash(?:es|ed|ing)?|crash ?loop|error rate|traceback|"
            r"exception|stuck|hangs|timing out|times out|unusable|not working|stopped responding|"
            r"not responding|not loading|nothing loads|runtime error|alert firing|corrupted|"
            r"(?:won't|won’t|wont|doesn't|doesn’t|can't|can’t|cannot) (?:start|boot|load|connect))\b"
        ),
    ),
    (
        "ongoing",
        0.75,
        frozenset({"ago", "last", "past"}),
        re.compile(
            r"\bsince (?:\d+|a few|ten|twenty|thirty) ?(?:min(?:ute)?s?|hours?) ago\b|"
            r"\bfor the (?:last|past) (?:\d+|few) ?(?:min(?:ute)?s?|hours?)\b"
        ),
    ),
    (
        "alarm",
        0.5,
        frozenset({"!", "quickly", "fast", "fastest"}),
        re.compile(r"!{2,}|\bhelp!|\bquickly\b|\bfast(?:est)?\b"),
    ),
)
_URGENCY_TOKEN = re.compile(r"[^\W_]+|!")
_NEGATION_BEFORE = re.compile(
    r"\b(?:not|no|never|nothing|without|isn't|isn’t|aren't|aren’t|wasn't|nor)\W+(?:\w+\W+){0,2}$"
)
# Contexts that cancel urgency cues: (weight, pattern, reason).
_URGENCY_DAMPENERS: tuple[tuple[float, re.Pattern[str], str], ...] = (
    (
        -3.0,
        re.compile(
            r"\bno (?:rush|hurry|deadline|pressure)\b|\btake your time\b|\bwhenever you\b|"
            r"\bwhen you (?:have|get) (?:a )?(?:time|moment|chance|minute)\b|\bat your (?:leisure|"
            r"convenience)\b|\blow[- ]priority\b|\bnot (?:a )?priority\b|\bnot time[- ]sensitive\b|"
            r"\bnot (?:at all )?urgent\b|\bnothing (?:is )?(?:down|broken|urgent)\b"
        ),
        "says it can wait",
    ),
    (
        -2.5,
        re.compile(
            r"\bwhat (?:does|do) [\"'‘“]?\w+[\"'’”]? mean\b|\bmeaning of\b|\bdefine\b|"
            r"\bdefinition of\b|\bsynonyms?\b|\bantonyms?\b|\bthe (?:word|term|phrase)\b|"
            r"\bacronym\b|\bstands? for\b|\bspell\b|"
            r"[\"'‘“](?:urgent|asap|outage|emergency|critical|down)[\"'’”]"
        ),
        "asks about the word, not an emergency",
    ),
    (
        -2.5,
        re.compile(
            r"\b(?:write|compose|tell|imagine|draft)\b[^.?!\n]{0,40}\b(?:story|poem|novel|fiction|"
            r"screenplay|scene|song|lyrics|haiku|limerick|fable|tale)\b|\bfictional\b|\brole-?play\b"
        ),
        "creative request: the urgency is part of the fiction",
    ),
    (
        -2.0,
        re.compile(
            r"\brunbooks?\b|\bplaybooks?\b|\bpost-?mortems?\b|\bretrospective\b|\bincident "
            r"(?:report|response (?:process|plan))\b|\bwhat (?:to do|should we do|would happen) "
            r"(?:if|when)\b|\bin case (?:of|the)\b|\bhow (?:to|do (?:we|i|you)) (?:prevent|avoid|"
            r"prepare)\b|\bhypothetical(?:ly)?\b|\blast (?:week|month|year)(?:'s|’s)\b|"
            r"\byesterday(?:'s|’s)\b|\bdesign an? (?:incident|on-?call|escalation)\b"
        ),
        "planning or a past incident, nothing live",
    ),
)
# A quiz question or a maths word problem about other people describes a situation; it does
# not report one (an MMLU item on "emergency" care, "How old is Angela right now?").
_QUIZ_DAMPENER = -2.0
_QUIZ_WORD_PROBLEM = re.compile(r"\bhow (?:many|much|old|long|far|fast)\b")
_SPEAKER_WORDS = frozenset({"i", "me", "my", "we", "us", "our", "you", "your"})


@dataclass(frozen=True)
class _Prompt:
    """One prompt prepared once for all features: question, options, tokens, word count."""

    text: str  # the scanned text (original case, at most _MAX_SCAN_CHARS)
    lower: str
    question: str  # options of a multiple-choice prompt removed
    question_lower: str
    options: str
    tokens: list[str]  # lower-case word tokens of the question
    words: int

    @classmethod
    def of(cls, full_text: str) -> _Prompt:
        text = full_text[:_MAX_SCAN_CHARS]
        match = _MC_OPTIONS.search(text)
        question, options = (text[: match.start()], text[match.start() :]) if match else (text, "")
        question_lower = question.lower()
        tokens = _TOKEN.findall(question_lower)
        # chars/6 keeps text without spaces (minified code, base64) from looking short.
        words = max(len(tokens), len(question) // 6)
        if len(full_text) > len(text):  # beyond the scan window
            words = max(words, len(full_text) // 6)
        if not question.isascii():
            words = max(words, len(_CJK_CHAR.findall(question)) // 2)
        return cls(text, text.lower(), question, question_lower, options, tokens, words)


def last_user_turn(prompt: str | Sequence[Mapping[str, Any]]) -> str:
    """The text to route on: the string itself, or the last user message of a chat.

    Routing on the last turn follows RouteLLM (its routers were trained on first turns);
    earlier turns would otherwise make every long conversation COMPLEX.
    """
    if isinstance(prompt, str):
        return prompt
    for message in reversed(prompt):
        if isinstance(message, Mapping) and message.get("role") == "user":
            content = message.get("content") or ""
            if isinstance(content, str):
                return content
            # OpenAI-style content parts: keep the text parts.
            return " ".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    return ""


def _quote(matches: Iterable[str], limit: int = 3) -> str:
    """"'a', 'b'" from the first distinct matches, for a reason string."""
    seen: list[str] = []
    for m in matches:
        m = m.strip().lower()
        if m and m not in seen:
            seen.append(m)
    return ", ".join(f"'{m}'" for m in seen[:limit])


def _features(p: _Prompt) -> list[tuple[str, float, str]]:
    """(feature name, value, reason) of every complexity feature that fired.

    Values are unweighted; counts are square-rooted so repetition saturates. FEATURE_WEIGHTS
    turns them into logit contributions.
    """
    found: list[tuple[str, float, str]] = [("length", math.log1p(p.words), _length_reason(p))]
    if p.options:
        found.append((
            "options",
            math.log(len(p.options) / _OPTIONS_REFERENCE_CHARS),
            f"multiple choice ({len(p.options)} chars of options)",
        ))

    tokens = p.tokens
    relational = [t for t in tokens if t in _RELATIONAL_WORDS]
    relational += [f"as {b}" for a, b in zip(tokens, tokens[1:], strict=False) if a == "as" and b in _AS_WHAT]
    for name, hits, label, cap in (
        ("relational", relational, "quantities in words or relations", 9.0),
        ("specialist", [t for t in tokens if t in _SPECIALIST_WORDS], "specialist vocabulary", 9.0),
        ("narrative", [t for t in tokens if t in _NARRATIVE_WORDS], "people in a scenario", 9.0),
        (
            "maths",
            [t for t in tokens if t in _MATHS_WORDS] + _MATHS_SYMBOLS.findall(p.question),
            "maths",
            2.0,
        ),
        ("code_tokens", _CODE_TOKEN.findall(p.question), "code-like tokens", 3.0),
    ):
        if hits:
            found.append((name, min(math.sqrt(len(hits)), cap), f"{label}: {_quote(hits)}"))

    recall = _RECALL.findall(p.question_lower)
    if recall:
        found.append(("recall", 1.0, f"asks for a name or definition: {_quote(recall)}"))
    if _PAIRED_CLAIMS.search(p.question_lower):
        found.append(("paired_claims", 1.0, "two claims to judge (Statement/Scenario 1 | 2)"))
    items = len(_ITEM_LINE.findall(p.question))
    if items >= 2:
        found.append(("items", math.sqrt(items), f"{items} list items / sub-tasks"))
    if _CODE_BLOCK.search(p.question):
        found.append(("code_block", 1.0, "code block"))

    verbs = sorted({t for t in tokens if t in _TASK_VERBS})
    if verbs:
        found.append(("task_verbs", min(len(verbs), 3), f"task verb: {_quote(verbs)}"))
    pairs = {" ".join(pair) for pair in zip(tokens, tokens[1:], strict=False) if pair in _DELIVERABLE_PAIRS}
    deliverables = sorted({t for t in tokens if t in _DELIVERABLES} | pairs)
    if deliverables:
        found.append(("deliverables", min(len(deliverables), 3), f"deliverable: {_quote(deliverables)}"))
    depth = _DEPTH.findall(p.question_lower)
    if depth:
        found.append(("depth", min(len(depth), 2), f"depth requested: {_quote(depth)}"))
    found.extend(_output_size_features(p.question_lower))
    questions = p.question.count("?")
    if questions >= 2:
        found.append(("questions", min(questions - 1, 3), f"{questions} questions"))

    brevity = _BREVITY.findall(p.question_lower)
    if brevity:
        found.append(("brevity", 1.0, f"brevity requested: {_quote(brevity)}"))
    if p.words <= 12 and _SMALL_TALK.search(p.question_lower):
        found.append(("small_talk", 1.0, "greeting / small talk"))
    if p.words <= 15 and not (p.options or verbs or deliverables) and _SHORT_FACTUAL.search(p.question_lower):
        found.append(("short_factual", 1.0, "short factual question"))
    return found


def _length_reason(p: _Prompt) -> str:
    if p.words >= 60:
        return f"long prompt ({p.words} words)"
    if p.words <= 8:
        return f"short prompt ({p.words} words)"
    return f"prompt length {p.words} words"


def _output_size_features(question_lower: str) -> list[tuple[str, float, str]]:
    """A requested output size: long ("1500 words", "2 pages") or tiny ("in 50 words")."""
    for number, unit in _OUTPUT_SIZE.findall(question_lower):
        n = int(number.replace(",", "") or 0)
        if unit.startswith("word"):
            if n >= 300:
                return [("long_output", 1.0, f"long output requested ({n} {unit})")]
            if n <= 50:
                return [("short_output", 1.0, f"short output requested ({n} {unit})")]
        elif (unit.startswith("page") and n >= 1) or (unit.startswith("paragraph") and n >= 3):
            return [("long_output", 1.0, f"long output requested ({n} {unit})")]
    return []


def _logistic(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _to_complexity(raw: float) -> float:
    return _logistic((raw - _CENTRE) / _SCALE)


def _to_raw(complexity: float) -> float:
    c = min(max(complexity, 1e-12), 1 - 1e-12)
    return _CENTRE + _SCALE * math.log(c / (1 - c))


def _weighted(features: list[tuple[str, float, str]]) -> list[tuple[float, str]]:
    return [(FEATURE_WEIGHTS[name] * value, reason) for name, value, reason in features]


def complexity_score(prompt: str | Sequence[Mapping[str, Any]]) -> float:
    """"Needs the strong model" score in [0, 1]; monotone in the summed feature weights.

    >>> complexity_score("hi") < complexity_score("Design and implement a rate limiter.")
    True
    """
    p = _Prompt.of(last_user_turn(prompt))
    return _to_complexity(sum(w for w, _ in _weighted(_features(p))))


def _urgency(p: _Prompt) -> tuple[float, list[str]]:
    """Summed urgency evidence and its reasons (cues that fired, dampeners that applied)."""
    text = p.lower
    evidence = 0.0
    reasons: list[str] = []
    negated: list[str] = []
    tokens = set(_URGENCY_TOKEN.findall(text))
    for kind, weight, triggers, pattern in _URGENT_CUES:
        if triggers.isdisjoint(tokens):
            continue
        for match in pattern.finditer(text):
            if _NEGATION_BEFORE.search(text, max(0, match.start() - 30), match.start()):
                negated.append(match.group(0))
                continue
            evidence += weight
            reasons.append(f"{kind}: '{match.group(0).strip()}'")
            break  # one hit per cue: repeating a word is not more evidence
    if negated:
        reasons.append(f"negated: {_quote(negated)}")
    if evidence <= 0:
        return 0.0, reasons
    for weight, pattern, label in _URGENCY_DAMPENERS:
        match = pattern.search(text)
        if match:
            evidence += weight
            reasons.append(f"{label}: '{match.group(0).strip()}'")
    if p.options:
        evidence += _QUIZ_DAMPENER
        reasons.append("multiple-choice quiz question, not a live incident")
    elif _SPEAKER_WORDS.isdisjoint(tokens) and _QUIZ_WORD_PROBLEM.search(text):
        evidence += _QUIZ_DAMPENER
        reasons.append("word problem about other people, not a live incident")
    return evidence, reasons


def classify(
    prompt: str | Sequence[Mapping[str, Any]], *, complex_threshold: float | None = None
) -> Classification:
    """Classify the last user turn as QUICK, COMPLEX or URGENT, with confidence and reasons.

    Pure and deterministic. `complex_threshold` overrides DEFAULT_COMPLEX_THRESHOLD for the
    QUICK/COMPLEX split, e.g. after recalibrating on the console's own traffic.

    >>> c = classify("Our Space is down and customers get 502s, help now!")
    >>> c.label.value, c.confidence > 0.8
    ('URGENT', True)
    """
    threshold = DEFAULT_COMPLEX_THRESHOLD if complex_threshold is None else complex_threshold
    p = _Prompt.of(last_user_turn(prompt))
    terms = _weighted(_features(p))
    raw = sum(w for w, _ in terms)
    complexity = _to_complexity(raw)
    is_complex = complexity >= threshold
    # The margin is measured in logit units, so confidence means the same at any threshold.
    confidence_split = _logistic(0.4 + 1.2 * abs(raw - _to_raw(threshold)))

    evidence, urgency_reasons = _urgency(p)
    p_urgent = _logistic(2.0 * (evidence - URGENT_EVIDENCE_THRESHOLD) + 0.5)
    fired = sorted((t for t in terms if abs(t[0]) >= 0.25), key=lambda t: -abs(t[0]))
    summary = (
        f"complexity {complexity:.2f} vs threshold {threshold:.2f} "
        f"({'COMPLEX' if is_complex else 'QUICK'})"
    )
    complexity_reasons = [summary] + [reason for _, reason in fired]

    if evidence >= URGENT_EVIDENCE_THRESHOLD:
        return Classification(
            Label.URGENT, round(p_urgent, 4), urgency_reasons + complexity_reasons, complexity
        )
    label = Label.COMPLEX if is_complex else Label.QUICK
    # Some urgency evidence below the bar (a negated "urgent") lowers the confidence.
    confidence = min(confidence_split, 1.0 - p_urgent)
    return Classification(label, round(confidence, 4), complexity_reasons + urgency_reasons, complexity)
