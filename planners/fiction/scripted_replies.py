"""Canned model replies that make one complete, valid five-phase run (the offline demo).

``cognition.agents.scripted.ScriptedAgent()`` serves these by phase. They are shaped so that a
whole plan is exactly five agent calls: the vision backlog holds one iterative, one chapter
architect and one scroll refiner item (chained through their input/output tokens), every lore need
is ``ready`` (nothing blocks the demo), and the scroll holds exactly one scene, whose prose passes
the coverage gate (it names the scene's slug words, cast and proper nouns).
"""

from __future__ import annotations

import json
from typing import Any


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


VISION_REPLY: dict[str, Any] = {
    "authorSummary": (
        "A quiet, tide-haunted mystery about memory and maps: in the drowned city of Vesper "
        "Reach, a young cartographer learns that the lantern routes everyone trusts were drawn "
        "to hide what the sea took."
    ),
    "bookGoals": [
        "Make the drowned city feel mapped, lived in and dangerous.",
        "Turn Mara's craft (mapping) into the engine of the mystery.",
        "End the first chapter with a discovery that reframes the Lantern Guild.",
    ],
    "coreCast": [
        {
            "name": "Mara Quell",
            "role": "protagonist, apprentice cartographer",
            "track": "from copying the Guild's maps to drawing her own",
            "importance": "primary",
            "summary": (
                "Precise, stubborn, and sure that every map tells the truth, until one lies."
            ),
        },
        {
            "name": "Tobin Ash",
            "role": "lantern-keeper and reluctant ally",
            "track": "from Guild loyalist to Mara's accomplice",
            "importance": "secondary",
            "summary": "Knows every lantern on the tide roads and what each one is for.",
        },
    ],
    "supportingCast": [
        {
            "name": "Archivist Sel",
            "role": "keeper of the Drowned Archive",
            "track": "guards the Tide Ledger, then gives it up",
            "importance": "supporting",
            "summary": "Old, dry-humoured, and the last person who remembers the city before.",
        }
    ],
    "loreNeeds": [
        {
            "title": "How the tide lanterns work",
            "requirementSlug": "lantern-tide-rules",
            "status": "ready",
            "description": "Lanterns mark safe water at low tide; the Guild sets their order.",
            "requiredFor": ["the-drowned-archive"],
        },
        {
            "title": "Districts of Vesper Reach",
            "requirementSlug": "vesper-reach-districts",
            "status": "ready",
            "description": "The dry Heights, the half-flooded Stair, the drowned Low City.",
        },
    ],
    "planningBacklog": [
        {
            "id": "outline-core-conflicts",
            "description": "A planning pass on the core conflicts, cast priorities and risks.",
            "inputs": ["vision"],
            "outputs": ["core-conflicts"],
        },
        {
            "id": "chapter-one-blueprint",
            "description": "Blueprint the first chapter: beats from the descent to the discovery.",
            "inputs": ["core-conflicts"],
            "outputs": ["chapter-one-blueprint"],
        },
        {
            "id": "chapter-one-scroll",
            "description": "Refine chapter one into a scroll of sections and scenes.",
            "inputs": ["chapter-one-blueprint"],
            "outputs": ["chapter-one-scroll"],
        },
    ],
    "openQuestions": ["Who in the Lantern Guild first moved the lanterns, and why?"],
    "worldSeeds": ["Lantern glass is tinted by district; drowned lanterns still glow."],
}

ITERATIVE_REPLY: dict[str, Any] = {
    "storyAdjustments": [
        "Open below the waterline: the Drowned Archive is the first set piece, not the third.",
        "Seed the lie in the maps early so the discovery lands in chapter one.",
    ],
    "characterPriorities": [
        "Mara Quell: show her method before she breaks it.",
        "Tobin Ash: make his loyalty to the Lantern Guild cost him something on the page.",
    ],
    "locationNotes": [
        "The Drowned Archive: shelves sealed in wax, reachable only at the lowest tide.",
    ],
    "systemsConsiderations": [
        "Lantern order is law: moving a lantern is a crime the Guild punishes by exile.",
    ],
    "risks": ["The mystery could stall if the Tide Ledger explains too much too soon."],
}

CHAPTER_ARCHITECT_REPLY: dict[str, Any] = {
    "title": "Chapter One: The Lowest Tide",
    "synopsis": (
        "Mara Quell and Tobin Ash go down into the Drowned Archive at the lowest tide to recover "
        "the Tide Ledger, and find that the Guild's lantern routes were drawn around something."
    ),
    "structure": [
        {
            "slug": "the-descent",
            "summary": "Mara and Tobin follow the lanterns down the Stair into the Low City.",
            "goal": "Reach the Archive before the tide turns.",
            "obstacle": "A lantern is out where the map swears it burns.",
            "turn": "Tobin admits the Guild moved that lantern last spring.",
            "fallout": "Mara stops trusting the map in her hands.",
            "carryForward": ["the moved lantern"],
        },
        {
            "slug": "the-ledger",
            "summary": "Archivist Sel hands over the Tide Ledger, and it contradicts the maps.",
            "goal": "Get the Ledger out before the Archive floods.",
            "obstacle": "Sel will not give it up without a truth in exchange.",
            "turn": "The Ledger shows a district the Guild's maps leave blank.",
            "fallout": "Mara and Tobin now hold evidence the Guild would exile them for.",
            "carryForward": ["the blank district", "the Tide Ledger"],
        },
    ],
}

SCROLL_REFINER_REPLY: dict[str, Any] = {
    "scrollSlug": "the-drowned-archive",
    "title": "The Drowned Archive",
    "synopsis": "The descent to the Archive and the bargain for the Tide Ledger, in one scene.",
    "sections": [
        {
            "sectionSlug": "below-the-waterline",
            "title": "Below the Waterline",
            "summary": "Mara and Tobin reach the Archive at the lowest tide.",
            "transitions": ["The tide turns as they leave, closing the way behind them."],
            "scenes": [
                {
                    "sceneSlug": "mara-enters-the-archive",
                    "title": "Mara Enters the Drowned Archive",
                    "goal": (
                        "Mara Quell must recover the Tide Ledger before the Lantern Guild "
                        "seals the Drowned Archive."
                    ),
                    "conflict": "Tobin Ash fears the Guild; Archivist Sel demands a truth.",
                    "turn": "The Ledger shows a district no Guild map admits to.",
                    "fallout": "Mara keeps the Ledger and a secret she cannot unknow.",
                    "carryForward": ["the blank district", "Tobin's debt to the Guild"],
                }
            ],
        }
    ],
}

SCENE_PROSE = """\
# Mara Enters the Drowned Archive

The lowest tide of the year came an hour before dawn, and Mara Quell was already standing on the
last dry step of the Stair with her map rolled tight under one arm. Below her, the Low City of
Vesper Reach lay open like a drawer someone had forgotten to close: roofs furred with weed, streets
running with thin silver water, and the tide lanterns of the Lantern Guild burning green and amber
along the safe roads, exactly where the map said they would.

All but one.

"That lantern should be lit," she said.

Tobin Ash did not look at it. He looked at the water instead, the way lantern-keepers always did,
reading it for the moment it would change its mind. "It was moved," he said at last. "Last spring.
The Guild moved it."

"The Guild does not move lanterns. Moving a lantern is exile."

"The Guild does not get exiled, Mara." He stepped down into the water. "Come on. We have until the
tide turns, and not a minute after."

The Drowned Archive had been a library once, when the Low City was simply the city. Now its doors
stood half-buried in silt, and its shelves were sealed in wax against the sea. Archivist Sel
waited inside with a lamp that smelled of fish oil, as if she had known to the minute when they
would come.

"You want the Tide Ledger," Sel said. It was not a question.

"The Guild is sealing the Archive tomorrow," Mara said. "When they do, the Ledger is gone."

"And what will you give me for it?" Sel turned the lamp so the light found Tobin's face. "Not
coin. A truth. The Guild took everything else."

Tobin was silent for a long moment. Water dripped somewhere in the dark. Then he told her about the
lantern he had carried down to the wrong corner of the Low City, on the Guild's orders, one night
last spring, and about the street it had once marked, which no map he had ever been shown still
held.

Sel nodded as if a debt had been paid, and put the Tide Ledger into Mara's hands.

Mara opened it on the wet reading table. The pages were tide tables, street by street, district by
district, the way the city had been measured before the water came. She laid her own map beside it
and traced the lantern routes with one finger. They matched, road for road, until they did not: in
the Ledger there was a whole district between the Stair and the harbour, with streets and a market
and a name. On the Guild's map, the same place was blank paper.

"They drew around it," she said. "The routes were drawn to go around it."

Behind them the water in the doorway rose a finger's width, then another. The tide had turned.
Tobin took her arm. Mara closed the Ledger, held it against her chest, and followed him out of the
Drowned Archive into the rising green light, carrying a book the Guild would exile them for and a
secret she could not unknow.
"""

# The framework's critique protocol: a first line "APPROVED" keeps the reply as it is.
CRITIQUE_REPLY = "APPROVED\nThe reply has the requested shape and stays consistent with the plan."

DEFAULT_REPLIES: dict[str, str] = {
    "vision": _json(VISION_REPLY),
    "iterative": _json(ITERATIVE_REPLY),
    # Fenced, as many chat models answer: the parser must accept it.
    "chapterArchitect": "```json\n" + _json(CHAPTER_ARCHITECT_REPLY) + "\n```",
    "scrollRefiner": _json(SCROLL_REFINER_REPLY),
    "sceneWeaver": SCENE_PROSE,
    "critique": CRITIQUE_REPLY,
}
