"""Canned model replies that make one complete, valid non-fiction run (the offline demo).

``cognition.agents.scripted.ScriptedAgent()`` serves these by phase once the pipeline module has
registered them. A whole plan is exactly four agent calls: the brief, the outline (exactly two
sections, so two section-draft items) and one draft per section. Both sections are answered by
the same draft, which is why it makes the key points of both: the scripted agent keys replies by
phase, not by section, and the two section items may run in either order.
"""

from __future__ import annotations

import json
from typing import Any


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


BRIEF_REPLY: dict[str, Any] = {
    "title": "The Quiet Grid",
    "audience": (
        "Curious readers with no engineering background who pay an electricity bill and have "
        "sat through a blackout."
    ),
    "thesis": (
        "The power grid is a balancing act performed every second by people and machines, and "
        "it fails when that balance is lost faster than anyone can restore it."
    ),
    "keyQuestions": [
        "How does the grid keep supply and demand equal from second to second?",
        "Why does a single fault sometimes black out a whole region?",
        "How is a dark grid started again, and what are batteries changing?",
    ],
    "sources": [
        {
            "title": "Final report on the 14 August 2003 blackout (US-Canada task force)",
            "kind": "paper",
            "relevance": "How a tripped line in Ohio became a cascade across eight states.",
        },
        {
            "title": "Interviews with control-room operators",
            "kind": "interview",
            "relevance": "What balancing the grid feels like on an ordinary shift.",
        },
    ],
}

OUTLINE_REPLY: dict[str, Any] = {
    "title": "The Quiet Grid",
    "summary": (
        "The book first shows the everyday balancing act that keeps the lights on, then what "
        "happens when it fails and how a dark grid is brought back."
    ),
    "sections": [
        {
            "sectionSlug": "balancing-supply-and-demand",
            "title": "Balancing Supply and Demand",
            "summary": "The second-by-second work of matching generation to consumption.",
            "keyPoints": [
                "Generation must match consumption every second",
                "Frequency shows whether the grid is in balance",
                "Operators hold reserves to cover sudden losses",
            ],
        },
        {
            "sectionSlug": "when-the-lights-go-out",
            "title": "When the Lights Go Out",
            "summary": "How blackouts spread, and how a dark grid is started again.",
            "keyPoints": [
                "Cascading failures begin with a single tripped line",
                "A black start rebuilds the grid island by island",
                "Batteries now answer faster than turbines",
            ],
        },
    ],
}

SECTION_PROSE = """\
# Keeping the Grid in Balance

Every second of every day, the generation feeding the grid has to match the consumption drawing
from it. There is almost nowhere to store electricity on the wires themselves, so when a million
kettles switch on at the end of a televised match, power stations somewhere must answer within
moments. Nobody sees this work; the lights simply stay on.

The grid's pulse is its frequency. In Europe it sits at 50 hertz, in North America at 60. When
demand outruns supply, the spinning turbines slow a little and the frequency sags; when supply
outruns demand, it rises. Control-room operators watch that one number the way a nurse watches a
heartbeat, because it shows at a glance whether the grid is in balance.

To cover sudden losses, such as a power station tripping offline without warning, operators hold
reserves: plants running below full output, ready to ramp up within seconds, and large customers
paid to switch off on request. The reserves are sized for the largest single loss the grid could
suffer, and on a normal day they are barely touched.

Blackouts begin when that cover is not enough. Cascading failures often start with a single
tripped line: a conductor sags into a tree on a hot afternoon, its load shifts onto neighbouring
lines, they overheat and trip in turn, and within minutes a whole region is dark. In August 2003
that chain ran from one line in Ohio to fifty million people.

Bringing a dark grid back is called a black start. A few stations that can start without outside
power energise a small area first, then the grid is rebuilt island by island, each island
balanced before it is joined to the next. It takes hours, sometimes days.

Batteries are changing both stories. A battery answers faster than turbines can, injecting power
within a fraction of a second when the frequency drops, and a large battery can help restart a
station after a blackout. The balancing act is the same; the reflexes are getting quicker.
"""

DEFAULT_REPLIES: dict[str, str] = {
    "brief": _json(BRIEF_REPLY),
    # Fenced, as many chat models answer: the parser must accept it.
    "outline": "```json\n" + _json(OUTLINE_REPLY) + "\n```",
    "sectionDraft": SECTION_PROSE,
}
