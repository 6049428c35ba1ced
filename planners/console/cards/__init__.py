"""What the console's cards show, one module per card (plus ``plans`` for the plan pages).

Each function issues a fixed number of queries, whatever the size of the backlog, so a page's
cost does not grow with the data (the tests pin the counts at 10 and 1,000 items). Where the
planner health report already knows a fact (template state, stale and orphaned items, recent
transitions and failures, the action log), a card reads the report a page built, or asks the
same query function of ``planners.health`` for itself.
"""
