"""Version checks: two people saving the same action draft or meeting note, each in their own connection (as two
guide kernels do), on both stores. The second save made from the same version is a message, never a lost update."""

from __future__ import annotations

import datetime as dt
import getpass
import re

import pytest
from support import review_fixture as fx

from pirlib.errors import InputError
from pirlib.review import actions, meeting, versions
from pirlib.review.session import open_review
from pirlib.ui.facilitator.wizard import FacilitatorWizard

pytestmark = pytest.mark.both_stores

# "draft: changed by Alice at 14:03 UTC since you opened it; nothing was saved: reload the draft ..."
CHANGED = r"^{what}: changed by {who} at \d\d:\d\d UTC since you opened it; nothing was saved: {reload}"


@pytest.fixture
def settings(settings):
    return fx.build(settings.db, database_url=settings.database_url)


def conflict(what: str, who: str, reload: str) -> str:
    return CHANGED.format(what=what, who=re.escape(who), reload=re.escape(reload))


def test_the_second_save_of_a_draft_from_the_same_version_is_a_message(settings):
    with open_review(settings, fx.STAGE31_ID) as s:
        draft_id = actions.create_draft(s, by="Alice", summary="Add an alert")
    # Alice and Bob both opened version 1; each saves in a unit of work of their own, as two guides do.
    with open_review(settings, fx.STAGE31_ID) as alice:
        assert actions.update_draft(alice.con, draft_id, version=1, by="Alice", summary="Alert on 5xx > 1%") == 2
    with open_review(settings, fx.STAGE31_ID) as bob:
        with pytest.raises(versions.VersionConflict, match=conflict("draft", "Alice", "reload the draft (its Edit")):
            actions.update_draft(bob.con, draft_id, version=1, by="Bob", owner="Bob Builder")
        with pytest.raises(versions.VersionConflict, match=conflict("draft", "Alice", "reload the draft")):
            actions.delete_draft(bob.con, draft_id, version=1)  # deleting it would lose Alice's change too
    with open_review(settings, fx.STAGE31_ID) as s:
        stored = actions.get_draft(s.con, draft_id)
        assert (stored.summary, stored.owner, stored.version, stored.updated_by) == (
            "Alert on 5xx > 1%",
            None,
            2,
            "Alice",
        )
        # Bob reloads (version 2) and saves again: now it lands, on top of Alice's change.
        assert actions.update_draft(s.con, draft_id, version=stored.version, by="Bob", owner="Bob Builder") == 3
        stored = actions.get_draft(s.con, draft_id)
        assert (stored.summary, stored.owner, stored.updated_by) == ("Alert on 5xx > 1%", "Bob Builder", "Bob")
        actions.delete_draft(s.con, draft_id, version=3)
        assert actions.get_draft(s.con, draft_id) is None
        actions.delete_draft(s.con, draft_id, version=3)  # gone already: no error
        with pytest.raises(InputError, match=f"^draft {draft_id} no longer exists; start a new draft"):
            actions.update_draft(s.con, draft_id, version=3, summary="x")


def test_a_conflict_on_another_day_names_the_date(settings):
    with open_review(settings, fx.STAGE31_ID) as s:
        draft_id = actions.create_draft(s, by="Alice", summary="Add an alert")
        actions.update_draft(s.con, draft_id, version=1, by="Alice", summary="Add two alerts")
        s.con.execute(
            "UPDATE action_drafts SET updated_at = ? WHERE draft_id = ?",
            [dt.datetime(2025, 9, 5, 14, 3, tzinfo=dt.UTC), draft_id],
        )
        with pytest.raises(
            versions.VersionConflict, match=r"^draft: changed by Alice on 2025-09-05 at 14:03 UTC since"
        ):
            actions.update_draft(s.con, draft_id, version=1, summary="x")


def test_a_push_state_move_is_not_an_edit_but_a_pushing_draft_is_not_edited(settings):
    with open_review(settings, fx.STAGE31_ID) as s:
        draft_id = actions.create_draft(s, summary="Add an alert")
        actions.start_push(s.con, draft_id)
        actions.mark_failed(s.con, s.settings, draft_id, "Jira answered HTTP 502")
        assert actions.get_draft(s.con, draft_id).version == 1  # the form's version still lands
        assert actions.update_draft(s.con, draft_id, version=1, summary="Add an alert on 5xx") == 2
        actions.start_push(s.con, draft_id)
        with pytest.raises(InputError, match="^draft is pushing as a Jira issue; edit the action in Jira instead"):
            actions.update_draft(s.con, draft_id, version=2, summary="late edit")
        assert actions.get_draft(s.con, draft_id).summary == "Add an alert on 5xx"


def test_the_second_save_of_a_note_from_the_same_version_is_a_message(settings):
    with open_review(settings, fx.STAGE31_ID) as s:
        note_id = meeting.add_note(s, "went_well", "Rollback took 4 min", author="Alice")
    with open_review(settings, fx.STAGE31_ID) as alice:
        assert meeting.edit_note(alice, note_id, "Rollback took 4 min (runbook step 3)", version=1, by="Alice") == 2
    with open_review(settings, fx.STAGE31_ID) as bob:
        with pytest.raises(versions.VersionConflict, match=conflict("note", "Alice", "reload the Meeting step")):
            meeting.edit_note(bob, note_id, "Rollback was quick", version=1, by="Bob")
        with pytest.raises(versions.VersionConflict, match=conflict("note", "Alice", "reload the Meeting step")):
            meeting.delete_note(bob.con, note_id, version=1, at=bob.now())
    with open_review(settings, fx.STAGE31_ID) as s:
        [note] = meeting.notes(s).to_dict("records")
        assert (note["text"], note["version"], note["updated_by"], note["author"]) == (
            "Rollback took 4 min (runbook step 3)",
            2,
            "Alice",
            "Alice",
        )
        with pytest.raises(InputError, match="^What went well note: the text is empty; type the note, then save it"):
            meeting.edit_note(s, note_id, "  ", version=2)
        meeting.delete_note(s.con, note_id, version=2)
        assert meeting.notes(s).empty
        with pytest.raises(InputError, match="^note: it no longer exists"):
            meeting.edit_note(s, note_id, "again", version=2)


def test_who_saved_is_the_guides_user_else_the_hub_user_else_the_os_user(monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_USER", "alice")
    assert versions.editor("Alex Chen") == "Alex Chen"
    assert versions.editor(None) == versions.editor("  ") == "alice"
    monkeypatch.delenv("JUPYTERHUB_USER")
    assert versions.editor(None) == getpass.getuser()


# ------------------------------------------------------------------------------------------ in the guide


def guide(settings, user: str) -> FacilitatorWizard:
    w = FacilitatorWizard(settings, user=user, render_figures=False)
    if w.incident_id is None:  # the second guide resumes the review the first one picked
        w.steps["pick"].select.value = fx.STAGE31_ID
    assert w.incident_id == fx.STAGE31_ID
    return w


def test_two_facilitators_editing_one_draft_in_the_guide(settings):
    alice, bob = guide(settings, "Alice"), guide(settings, "Bob")
    alice.go("actions")
    alice_step = alice.steps["actions"]
    alice_step.fields["summary"].value = "Add an alert"  # a new draft, version 1
    bob.go("actions")
    bob_step = bob.steps["actions"]
    bob_step.edit(alice_step.draft_id)
    assert bob_step.fields["summary"].value == "Add an alert" and bob_step.draft_version == 1
    alice_step.fields["summary"].value = "Alert on checkout 5xx > 1%"
    assert "draft saved" in alice_step.message.widget.value
    bob_step.fields["owner"].value = "Sam Okafor"  # made from version 1: refused, and said so
    shown = bob_step.message.widget.value
    assert re.search(r"draft: changed by Alice at \d\d:\d\d UTC since you opened it; nothing was saved", shown), shown
    assert bob_step.fields["owner"].value == "Sam Okafor"  # what Bob typed stays in the form
    with open_review(settings, fx.STAGE31_ID) as s:
        stored = actions.get_draft(s.con, alice_step.draft_id)
    assert (stored.summary, stored.owner, stored.version) == ("Alert on checkout 5xx > 1%", None, 2)
    bob_step.edit(alice_step.draft_id)  # the reload the message asks for
    assert bob_step.fields["summary"].value == "Alert on checkout 5xx > 1%" and bob_step.fields["owner"].value == ""
    bob_step.fields["owner"].value = "Sam Okafor"
    assert "draft saved" in bob_step.message.widget.value
    with open_review(settings, fx.STAGE31_ID) as s:
        stored = actions.get_draft(s.con, alice_step.draft_id)
    assert (stored.summary, stored.owner, stored.version, stored.updated_by) == (
        "Alert on checkout 5xx > 1%",
        "Sam Okafor",
        3,
        "Bob",
    )


def test_two_facilitators_editing_one_note_in_the_guide(settings):
    alice, bob = guide(settings, "Alice"), guide(settings, "Bob")
    alice.go("meeting")
    alice.steps["meeting"].inputs["went_well"].value = "Rollback took 4 min"
    alice.steps["meeting"].add_buttons["went_well"].click()
    bob.go("meeting")
    [note_id] = alice.steps["meeting"].note_rows
    alice_row, bob_row = alice.steps["meeting"].note_rows[note_id], bob.steps["meeting"].note_rows[note_id]
    alice_row.widget.children[1].click()  # Edit
    alice_row.editor.value = "Rollback took 4 min (runbook step 3)"
    alice_row.widget.children[2].click()  # Save note
    assert "note saved" in alice.steps["meeting"].messages["went_well"].widget.value
    bob_row.widget.children[1].click()  # Bob still shows version 1
    bob_row.editor.value = "Rollback was quick"
    bob_row.widget.children[2].click()
    shown = bob.steps["meeting"].messages["went_well"].widget.value
    assert re.search(r"note: changed by Alice at \d\d:\d\d UTC since you opened it; nothing was saved", shown), shown
    # Bob's row now shows Alice's text, with his own still in the editor to save again or cancel.
    reloaded = bob.steps["meeting"].note_rows[note_id]
    assert reloaded.version == 2 and reloaded.editor is not None and reloaded.editor.value == "Rollback was quick"
    assert "runbook step 3" in reloaded.widget.children[0].value
    with open_review(settings, fx.STAGE31_ID) as s:
        assert list(meeting.notes(s)["text"]) == ["Rollback took 4 min (runbook step 3)"]
    reloaded.widget.children[2].click()  # save again: now over version 2
    with open_review(settings, fx.STAGE31_ID) as s:
        [note] = meeting.notes(s).to_dict("records")
    assert (note["text"], note["version"], note["updated_by"]) == ("Rollback was quick", 3, "Bob")
    assert "Rollback was quick" in bob.steps["meeting"].note_rows[note_id].widget.children[0].value
