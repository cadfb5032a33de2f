"""The facilitator's guide (``notebooks/facilitator_guide.ipynb``): ``wizard.FacilitatorWizard`` and its steps.

One module per step, named like the review module that holds its logic: ``pick`` (``pirlib.review.clock``),
``prepare``, ``timeline`` (``pirlib.timeline``), ``meeting``, ``actions``, ``wrap_up``; ``widgets`` holds what
the steps share (the escaping helper among them), ``timeline_editor`` the Timeline step's editor and ``recap``
the meeting's failure-mode and similar incidents panel. This package imports nothing itself, so a step module
can be imported alone.
"""
