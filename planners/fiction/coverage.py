"""The scene coverage gate: does the drafted prose actually stage the scene it was asked for?

A scene draft is checked against the scene's *named entities and slugs*, not against every word
of its description: generic words ("must", "before", "finally") say nothing about whether the
prose is the right scene, while names do. The entities are

* the words of the scene slug (``mara-enters-the-archive`` → mara, enters, archive),
* the cast members whose names appear in the scene's outline fields,
* capitalised proper nouns in the outline (``Tide Ledger``, ``Lantern Guild``), ignoring the
  capital that merely starts a sentence.

The draft passes when the share of entities it mentions reaches ``SCENE_COVERAGE_RATIO``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "with",
        "from",
        "by",
        "into",
        "onto",
        "over",
        "under",
        "below",
        "above",
        "is",
        "are",
        "was",
        "were",
        "be",
        "its",
        "it",
        "his",
        "her",
        "their",
        "our",
        "your",
        "my",
        "this",
        "that",
        "these",
        "those",
        "as",
        "than",
        "then",
        "when",
        "where",
        "while",
        "who",
        "whom",
        "what",
        "which",
        "why",
        "how",
        "not",
        "no",
        "nor",
        "so",
        "yet",
        "after",
        "before",
    ]
)
# Capitalised words that are grammar, not names, wherever they sit in a sentence.
_CAPITALISED_NON_NAMES = frozenset(
    [
        "I",
        "The",
        "A",
        "An",
        "And",
        "But",
        "Or",
        "If",
        "When",
        "While",
        "Then",
        "She",
        "He",
        "They",
        "We",
        "It",
        "His",
        "Her",
        "Their",
        "Its",
    ]
)
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'\u2019]*")
_PROPER_RE = re.compile(r"[A-Z][a-z'\u2019]+(?:[ \t]+[A-Z][a-z'\u2019]+)*")
_SENTENCE_END_RE = re.compile(r"(?:[.!?:;]\s*|\n\s*)$")
_POSSESSIVE_RE = re.compile(r"['\u2019]s$")


@dataclass(frozen=True)
class Entity:
    """A name the prose should mention; found when any of ``needles`` occurs as a word."""

    label: str
    needles: tuple[str, ...]


@dataclass(frozen=True)
class CoverageReport:
    entities: tuple[str, ...]
    found: tuple[str, ...]
    missing: tuple[str, ...]
    ratio: float
    required_ratio: float

    @property
    def passed(self) -> bool:
        return not self.entities or self.ratio >= self.required_ratio

    def describe(self) -> str:
        """One line for the transcript and the repair prompt, naming what is missing."""
        summary = (
            f"scene coverage {len(self.found)}/{len(self.entities)} "
            f"({self.ratio:.0%}, needs {self.required_ratio:.0%})"
        )
        if self.missing:
            summary += ": missing " + ", ".join(self.missing)
        return summary


def slug_words(slug: str) -> list[str]:
    """The meaningful words of a slug (stopwords, digits and one- or two-letter bits dropped)."""
    return [
        word
        for word in slug.lower().split("-")
        if len(word) >= 3 and word.isalpha() and word not in STOPWORDS
    ]


def _proper_nouns(text: str) -> list[str]:
    """Runs of capitalised words that are names: a lone capital at a sentence start is not."""
    nouns: list[str] = []
    for match in _PROPER_RE.finditer(text):
        words = [_POSSESSIVE_RE.sub("", word) for word in match.group(0).split()]
        first = words[0]
        while words and words[0] in _CAPITALISED_NON_NAMES:
            words.pop(0)
        if not words:
            continue
        at_sentence_start = match.start() == 0 or bool(
            _SENTENCE_END_RE.search(text[: match.start()])
        )
        if len(words) == 1 and at_sentence_start and words[0] == first:
            continue
        nouns.append(" ".join(words))
    return nouns


def _mentions(text: str, word: str) -> bool:
    return re.search(rf"\b{re.escape(word)}\b", text, flags=re.IGNORECASE) is not None


def _name_parts(name: str) -> tuple[str, ...]:
    return tuple(part for part in _WORD_RE.findall(name) if len(part) >= 3)


def scene_entities(
    *,
    scene_slug: str,
    scene_title: str = "",
    scene_fields: Iterable[str],
    cast_names: Iterable[str],
) -> list[Entity]:
    """The entities a draft of this scene must mention (deduplicated, in a stable order).

    The title counts for spotting cast members but not for proper nouns: titles are
    Title Cased, so every word of them would look like a name.
    """
    outline = "\n".join(field for field in scene_fields if field)
    outline_and_title = f"{scene_title}\n{outline}"
    entities: dict[str, Entity] = {}

    def add(entity: Entity) -> None:
        entities.setdefault(entity.label.lower(), entity)

    for word in slug_words(scene_slug):
        # A stem lets "enters" match "entered", "archive" match "archives".
        stem = word[:-1] if len(word) > 4 and word.endswith("s") else word
        add(Entity(label=word, needles=(stem,)))

    cast_parts: set[str] = set()
    for name in cast_names:
        parts = _name_parts(name)
        if parts and any(_mentions(outline_and_title, part) for part in parts):
            # People are called by their first or last name as often as by the full name.
            add(Entity(label=name, needles=parts))
            cast_parts.update(part.lower() for part in parts)

    for noun in _proper_nouns(outline):
        words = noun.split()
        if all(word.lower() in cast_parts for word in words):
            continue  # already covered by the cast member it names
        add(Entity(label=noun, needles=(noun,)))
    return list(entities.values())


def _found(prose: str, entity: Entity) -> bool:
    for needle in entity.needles:
        pattern = r"\s+".join(re.escape(part) for part in needle.split())
        if re.search(rf"\b{pattern}", prose, flags=re.IGNORECASE):
            return True
    return False


def check_coverage(
    prose: str, entities: Sequence[Entity], *, required_ratio: float
) -> CoverageReport:
    found = [e.label for e in entities if _found(prose, e)]
    missing = [e.label for e in entities if e.label not in found]
    ratio = len(found) / len(entities) if entities else 1.0
    return CoverageReport(
        entities=tuple(e.label for e in entities),
        found=tuple(found),
        missing=tuple(missing),
        ratio=ratio,
        required_ratio=required_ratio,
    )
