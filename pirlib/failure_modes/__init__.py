"""Failure modes: the taxonomy and classification (taxonomy.py), the facilitator's manual mode
(manual.py), similar past incidents (similar.py) and recurrence / action effectiveness (recurrence.py)."""
