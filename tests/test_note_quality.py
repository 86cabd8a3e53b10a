"""The note checker: concrete notes pass, vague and personality notes get a short, kind hint."""

from __future__ import annotations

import pytest

from bot.feedback.answers import NOTE_FIELDS, Answers, note_hints
from bot.feedback.note_quality import (
    CONTEXTUAL_WORDS,
    HINT_MAX,
    PERSONALITY_HINT,
    PERSONALITY_PHRASES,
    PERSONALITY_WORDS,
    VAGUE_HINT,
    note_hint,
)

CONCRETE = [
    "Ran the incident review calmly.",
    "Shipped the import tool a week early.",
    "Hand the release checklist to someone else next time.",
    "Asked the quietest person in every planning meeting first.",
    "When the vendor API broke on launch day she called the rollback in ten minutes and told "
    "support first, so no customer was surprised.",
    "In Tuesday's design review he interrupted Priya twice; she stopped sharing her idea.",
    "Great job on the launch: you caught the billing bug before release.",
    "Nice presentation to the board last week.",
    "Implemented lazy loading and cut page load time by 40% for the dashboard.",
    "Shows emotional intelligence when a customer escalates: she listens, then summarises.",
    "Handled a difficult customer call on Monday and kept the renewal.",
    "The bug was difficult to find, but she traced it in two days and wrote a test.",
    "Set an aggressive timeline for the migration and met it with a day to spare.",
    "The outage had a negative impact on support load; he wrote the runbook that fixed it.",
    "他在发布评审中冷静地主持了会议，让团队按时上线。",  # Chinese: no spaces between words
    "Hat im Sprint-Review die Risiken früh benannt, dadurch blieb der Termin.",
    "Expliqué le plan de migration à l'équipe support avant la mise en production.",
]
VAGUE = [
    "Great job!",
    "good work",
    "Well done.",
    "Nice",
    "AWESOME!!!",
    "Needs improvement.",
    "Could be better.",
    "Clear priorities.",
    "Good work on the project overall.",
    "Great job, really awesome work this quarter, keep it up!",
    "Not good, needs improvement overall, could be better.",
    "Thanks for everything, you are amazing and a great team player!",
    "很好",
    "Buen trabajo",
    "👍",
    "...",
]
PERSONALITY = [
    ("She is too emotional in meetings with the design team.", "too emotional"),
    ("Can be abrasive when reviewing code from junior engineers.", "abrasive"),
    ("ABRASIVE, in code reviews with junior engineers.", "abrasive"),
    ("Lazy.", "lazy"),
    ("He's difficult to work with during planning meetings.", "difficult"),
    ("Needs to watch her tone with the support team during incidents.", "watch her tone"),
    ("Watch your tone!", "watch your tone"),
    ("A bit bossy with the interns on the onboarding project.", "bossy"),
    ("Quite aggressive in the weekly roadmap discussions with sales.", "aggressive"),
    ("Has a negative attitude about the new release process.", "negative attitude"),
    ("Arrogant toward the platform team when they asked for help.", "arrogant"),
    ("Comes across as pushy in customer calls and sprint planning.", "pushy"),
    ("Moody and hysterical when deadlines slip at the end of a quarter.", "moody"),
    ("She was shrill in the all-hands and people stopped listening.", "shrill"),
]


@pytest.mark.parametrize("text", CONCRETE)
def test_concrete_notes_get_no_hint(text: str) -> None:
    assert note_hint(text) is None


@pytest.mark.parametrize("text", VAGUE)
def test_vague_notes_ask_for_one_example(text: str) -> None:
    assert note_hint(text) == VAGUE_HINT


@pytest.mark.parametrize(("text", "word"), PERSONALITY)
def test_personality_words_ask_for_behaviour(text: str, word: str) -> None:
    assert note_hint(text) == PERSONALITY_HINT.format(word=word)


@pytest.mark.parametrize("text", ["", " ", "\n\t "])
def test_empty_notes_are_fine(text: str) -> None:
    assert note_hint(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "Ẓ̷̛a̸l̴g̵o̶ " * 20,
        "\u200b\u200d\ufeff",
        "🚀" * 3000,
        "ﬁxed the ﬂaky deploy on Friday night for everyone",  # ligatures, NFKC
        "Ｆｕｌｌｗｉｄｔｈ　ＬＡＺＹ　ｔｅｘｔ",
        "\x00\x01 control characters \x7f",
        "مرحبا بالعالم، قاد الاجتماع بهدوء",
        "x" * 3000,
    ],
)
def test_any_text_goes_through_without_error(text: str) -> None:
    hint = note_hint(text)
    assert hint is None or len(hint) <= HINT_MAX


def test_whole_words_only() -> None:
    assert note_hint("Bossypants is the book she lent the team before the offsite.") is None
    assert note_hint("Fixed the lazyload bug in the image gallery on Friday.") is None
    assert note_hint("Improved the abrasiveness test suite for the polishing robot firmware.") is None


def test_every_hint_fits_under_a_field() -> None:
    words = [*PERSONALITY_WORDS, *PERSONALITY_PHRASES, *CONTEXTUAL_WORDS]
    assert all(len(PERSONALITY_HINT.format(word=w)) <= HINT_MAX for w in words)
    assert len(VAGUE_HINT) <= HINT_MAX
    for hint in (VAGUE_HINT, PERSONALITY_HINT):
        assert "situation" in hint.lower() or "what they did" in hint.lower()


def test_note_hints_names_each_note_field() -> None:
    answers = Answers(
        scores={},
        delivery_note="Shipped the import tool a week early.",
        strengths_note="Great job!",
        growth_note="Too emotional.",
    )
    hints = note_hints(answers)
    assert set(hints) == {"strengths_note", "growth_note"} <= set(NOTE_FIELDS)
    assert hints["strengths_note"] == VAGUE_HINT
    assert hints["growth_note"] == PERSONALITY_HINT.format(word="too emotional")
    assert note_hints(Answers(scores={})) == {}


def test_deterministic() -> None:
    text = "Great job, really awesome work this quarter!"
    assert {note_hint(text) for _ in range(5)} == {VAGUE_HINT}
