"""The runbook's review of one incident, one module per stage.

- ``clock``: "now", the runbook's stages and their deadlines, the incidents waiting for a review (Pick).
- ``session``: ``ReviewSession``, the open connection and the incident a step works on, and its facts.
- ``prepare``: runbook §1: facilitator, artifacts checklist, invite list, agenda.
- ``meeting``: runbook §2: the six timed segments and the notes taken in each.
- ``actions``: runbook §3: SMART validation and the action drafts.
- ``wrap_up``: the review-quality check (``pir check`` and the guide's Wrap-up step).
- ``progress``: which step of the guide a review was left at, so reopening resumes there.

The timeline's logic is ``pirlib.timeline``. Functions about one incident take a ``ReviewSession``;
functions about one row by its own id (a note, a draft) take the connection. Nothing here opens a
connection: the caller (a CLI command, a wizard step) opens one with ``session.open_review`` or
``db.connect`` for one unit of work and closes it, so nobody holds the database while a person thinks.
"""
