"""Writing a validated phase reply into the plan's rows: one module per phase's writer, and the
shared upserts in ``rows``.

Every writer is idempotent: rows are keyed on their unique keys (``rows.upsert_rows``), so a phase
whose task is redelivered, or an item resumed after it already wrote, updates what it wrote
instead of adding duplicates. The runner calls these inside the phase's one transaction, under
the plan's row lock (``planners.pipeline.scheduling.lock_plan``), which is what lets a writer
read the rows it keys on and then insert the missing ones in bulk without savepoints: no other
phase of the plan writes between the read and the insert. (A unique-key clash with some other writer
fails the phase's savepoint, and the phase, rather than adding a duplicate.)
"""
