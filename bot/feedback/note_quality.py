"""Is a written note worth coaching from? A pure, deterministic check of the notes on the
two-dimensional form, answering a short hint per note that could be more useful.

Two signals, from what the field knows (docs: /work/shared/COACHING.md, "Feedback worth
acting on"):

- **Vague notes** ("great job", "good work", a few words) carry no information for coaching.
  The Center for Creative Leadership's Situation-Behaviour-Impact model asks for when and
  where, what the person did (observable), and what it caused; the hint asks for that one
  concrete example. It nudges, it does not block: the caller shows it once per form.
- **Personality words instead of behaviour** are a bias signal: in Kieran Snyder's 2014 study
  of 248 reviews from 28 tech companies, personality criticism ("watch your tone") appeared
  in 2 of 83 critical reviews of men and 71 of 94 of women, and "abrasive" was used 17 times
  for 13 women and never for a man. The hint asks to describe what they did instead.

Any text in any language goes through without error; case and punctuation are ignored.
"""

from __future__ import annotations

import re
import unicodedata

MIN_WORDS = 5  # fewer words than this cannot name a situation, a behaviour and its impact
MIN_DETAIL_WORDS = 3  # beside stock praise or criticism, this many other words carry detail
HINT_MAX = 150  # Slack shows the hint under the field

VAGUE_HINT = (
    "Could you add one concrete example? When it happened, what they did, and what it changed "
    "(situation, behaviour, impact)."
)
PERSONALITY_HINT = (
    'Could you describe what they did instead of who they are ("{word}")? '
    "One moment, the action, and what it changed."
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Stock phrases: praise or criticism that fits anyone, so it says nothing about this person.
STOCK_PHRASES = (
    "keep up the good work",
    "keep up the great work",
    "keep it up",
    "great job",
    "good job",
    "nice job",
    "awesome job",
    "great work",
    "good work",
    "nice work",
    "awesome work",
    "excellent work",
    "well done",
    "good effort",
    "thank you",
    "thanks",
    "rock star",
    "rockstar",
    "team player",
    "top notch",
    "no complaints",
    "nice",
    "awesome",
    "amazing",
    "great",
    "good",
    "excellent",
    "fantastic",
    "outstanding",
    "superb",
    "brilliant",
    "perfect",
    "solid",
    "fine",
    "ok",
    "okay",
    "needs improvement",
    "needs to improve",
    "room for improvement",
    "could be better",
    "could do better",
    "can do better",
    "do better",
    "be better",
    "try harder",
    "work harder",
    "step up",
    "not great",
    "not good",
    "bad",
    "poor",
    "meh",
)

# Words that hold a sentence together but name no situation, behaviour or impact.
FILLER = _words(
    """a an the and or but so very really truly always overall all in on at for with of to as
    is was are were be been being has have had did does do done he she they you we i it this that
    his her their your my our him them me us its job work working everything stuff thing things
    lot lots quite pretty super just generally there here more some bit much also too
    again keep up he's she's they're you're it's i'm we're"""
)

# Words about who someone is rather than what they did, whatever the context.
PERSONALITY_WORDS = frozenset(
    {
        "abrasive",
        "arrogant",
        "bossy",
        "hysterical",
        "moody",
        "pushy",
        "shrill",
        "strident",
        "temperamental",
        "whiny",
    }
)
PERSONALITY_PHRASES = (
    "too emotional",
    "overly emotional",
    "watch your tone",
    "watch her tone",
    "watch his tone",
    "watch their tone",
    "negative attitude",
    "bad attitude",
    "attitude problem",
    "not a team player",
)
# Words that describe a person only when said of one: "she is difficult", "lazy", "difficult to
# work with" — but not "a difficult migration", "lazy loading", "emotional intelligence".
CONTEXTUAL_WORDS = frozenset(
    {"aggressive", "defensive", "difficult", "emotional", "intimidating", "lazy", "negative"}
)
LINKING_WORDS = _words(
    """is was are were be being been seem seems seemed appear appears appeared get gets got
    become becomes became too so very quite really overly bit somewhat often always sometimes
    can could rather pretty extremely as"""
)
# "difficult to work with" is said of a person, "difficult to find" of a thing.
PERSON_VERBS = _words("work deal talk approach manage please reach collaborate coach get")
PERSON_NOUNS = _words(
    """person people colleague coworker co-worker teammate manager lead leader guy woman man girl
    boy lady attitude personality character nature"""
)

_STOCK_LONGEST_FIRST = sorted(STOCK_PHRASES, key=lambda p: (-len(p.split()), -len(p)))
_WORD = re.compile(r"\w+(?:['-]\w+)*")
_CLAUSE_BREAK = re.compile(r"[.,;:!?()\[\]{}\"“”«»…—–/|\n]+")
_NO_SPACE_SCRIPTS = ("CJK", "HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER", "MYANMAR")


def note_hint(text: str) -> str | None:
    """The hint for one note, or None when it is empty or already concrete."""
    if not text.strip():
        return None  # notes are optional
    clauses = _clauses(text)
    word = _personality_word(clauses)
    if word is not None:
        return PERSONALITY_HINT.format(word=word)
    if _is_vague([t for clause in clauses for t in clause]):
        return VAGUE_HINT
    return None


def personality_word(text: str) -> str | None:
    """The first personality word or phrase in a note ("abrasive", "watch your tone"), or None:
    what the talent review's bias report counts."""
    return _personality_word(_clauses(text)) if text.strip() else None


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return text.replace("\u2019", "'").replace("\u2018", "'").replace("_", " ")


def _clauses(text: str) -> list[list[str]]:
    """The note as clauses of lowercase words, punctuation gone."""
    parts = _CLAUSE_BREAK.split(_normalise(text))
    return [words for part in parts if (words := _WORD.findall(part))]


def _word_count(tokens: list[str]) -> int:
    """Words, counting scripts written without spaces (Chinese, Japanese, Thai) by characters."""
    total = 0
    for token in tokens:
        unspaced = sum(1 for char in token if unicodedata.name(char, "").startswith(_NO_SPACE_SCRIPTS))
        total += max(1, unspaced // 2) if unspaced else 1
    return total


def _has_phrase(joined: str, phrase: str) -> bool:
    return f" {phrase} " in f" {joined} "


def _is_vague(tokens: list[str]) -> bool:
    if _word_count(tokens) < MIN_WORDS:
        return True
    rest = f" {' '.join(tokens)} "
    stock = False
    for phrase in _STOCK_LONGEST_FIRST:  # so "great job" and "not good" go whole
        if _has_phrase(rest, phrase):
            stock = True
            rest = rest.replace(f" {phrase} ", " ")
            while _has_phrase(rest, phrase):
                rest = rest.replace(f" {phrase} ", " ")
    if not stock:
        return False
    detail = [t for t in rest.split() if t not in FILLER]
    return _word_count(detail) < MIN_DETAIL_WORDS


def _personality_word(clauses: list[list[str]]) -> str | None:
    for words in clauses:
        joined = " ".join(words)
        for phrase in PERSONALITY_PHRASES:
            if _has_phrase(joined, phrase):
                return phrase
        for index, word in enumerate(words):
            if word in PERSONALITY_WORDS:
                return word
            if word in CONTEXTUAL_WORDS and _said_of_a_person(words, index):
                return word
    return None


def _said_of_a_person(words: list[str], index: int) -> bool:
    """``words[index]`` is said of someone: after "is"/"too"/"he's", before "person" or "to work
    with", or standing alone at the end of its clause."""
    before = words[index - 1] if index > 0 else None
    after = words[index + 1] if index + 1 < len(words) else None
    if after == "to":
        return index + 2 < len(words) and words[index + 2] in PERSON_VERBS
    if before is not None and (before in LINKING_WORDS or before.endswith(("'s", "'re"))):
        return True
    return after is None or after in {"and", "or", "but"} or after in PERSON_NOUNS
