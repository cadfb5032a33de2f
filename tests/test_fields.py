"""resolve_fields: configured names or ids -> this site's field ids, with one clear error when unsure."""

from __future__ import annotations

import pytest
from support.jira_samples import jira_sample

from pirlib.config import Settings
from pirlib.errors import ConfigError
from pirlib.jira_sync.fields import FieldMap, resolve_fields


def _field(fid: str, name: str, custom: str | None = "select") -> dict:
    schema = (
        {"type": "option", "custom": f"com.atlassian.jira.plugin.system.customfieldtypes:{custom}"}
        if custom
        else {"type": "string"}
    )
    return {"id": fid, "name": name, "custom": bool(custom), "schema": schema}


SITE = [
    {"id": "summary", "name": "Summary", "custom": False, "schema": {"type": "string", "system": "summary"}},
    {"id": "parent", "name": "Parent", "custom": False},  # Cloud: no schema at all
    _field("customfield_10010", "Severity"),
    _field("customfield_10011", "Failure Mode"),
    _field("customfield_10014", "Epic Link", "gh-epic-link"),
    _field("customfield_10020", "Success Metric", "textarea"),
    _field("customfield_10021", "Verification Method", "textarea"),
    _field("customfield_10022", "Action Type"),
    _field("customfield_10023", "Incident Commander", "userpicker"),
    _field("customfield_10024", "Customer Impact"),
    _field("customfield_10025", "Regulatory Reporting"),
    _field("customfield_10026", "Incident Start", "datetime"),
    _field("customfield_10027", "Team"),
]


def test_every_field_found_by_its_default_name() -> None:
    assert resolve_fields(SITE, Settings()) == FieldMap(
        severity="customfield_10010",
        failure_mode="customfield_10011",
        epic_link="customfield_10014",
        success_metric="customfield_10020",
        verification="customfield_10021",
        action_type="customfield_10022",
        team="customfield_10027",
        commander="customfield_10023",
        incident_start="customfield_10026",
        customer_impact="customfield_10024",
        regulatory="customfield_10025",
    )


def test_ids_and_case_insensitive_names_are_accepted() -> None:
    fields = resolve_fields(SITE, Settings(severity_field="customfield_10011", failure_mode_field="failure mode"))
    assert (fields.severity, fields.failure_mode) == ("customfield_10011", "customfield_10011")


def test_optional_fields_are_none_when_the_site_lacks_them() -> None:
    cloud = jira_sample("airbyte_source_jira_cloud_v3/issue_fields.json") + SITE[2:4]
    fields = resolve_fields(cloud, Settings())
    assert fields.epic_link is None and fields.team is None and fields.commander is None
    assert fields.severity == "customfield_10010"


def test_apache_has_six_severity_fields_and_the_error_lists_them() -> None:
    apache = jira_sample("public_jira_dataset_msr2022/apache_rest_api_2_field.json")
    severities = sorted(f["id"] for f in apache if f["name"] == "Severity")
    assert len(severities) == 6  # the task said seven; the catalogue holds six
    with pytest.raises(ConfigError) as caught:
        resolve_fields(apache, Settings())
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("PIR_SEVERITY_FIELD: 6 fields are named 'Severity'")
    for fid in severities:
        assert f"{fid} (select)" in message
    assert "set PIR_SEVERITY_FIELD=" in message


def test_apache_resolves_once_the_id_is_given() -> None:
    apache = jira_sample("public_jira_dataset_msr2022/apache_rest_api_2_field.json")
    fields = resolve_fields(apache, Settings(severity_field="customfield_12311036", failure_mode_field="Flags"))
    assert fields.severity == "customfield_12311036"
    assert fields.failure_mode == "customfield_12310250"
    assert fields.epic_link == "customfield_12311120"


def test_epic_link_id_differs_per_site_and_is_found_by_name() -> None:
    sites = jira_sample("public_jira_dataset_msr2022/jira_field_information.json")
    found = {}
    for site, catalogue in sites.items():
        some_field = next(f["id"] for f in catalogue if str(f["id"]).startswith("customfield_"))
        fields = resolve_fields(catalogue, Settings(severity_field=some_field, failure_mode_field=some_field))
        found[site] = fields.epic_link
    assert found["Apache"] == "customfield_12311120"
    assert found["IntelDAOS"] == found["Sakai"] == "customfield_10014"
    assert found["RedHat"] == "customfield_12311140"
    assert all(found.values())  # every one of the 14 sites has exactly one "Epic Link"


def test_missing_configured_field_names_the_setting_and_close_candidates() -> None:
    site = [f for f in SITE if f["name"] != "Failure Mode"] + [_field("customfield_10099", "Failure Modes")]
    with pytest.raises(
        ConfigError,
        match=r"^PIR_FAILURE_MODE_FIELD: no field named 'Failure Mode'.*'Failure Modes' \(customfield_10099\)",
    ):
        resolve_fields(site, Settings(failure_mode_field="Failure Mode"))
    # Not configured: the default name is optional, the taxonomy's rules classify instead.
    assert resolve_fields(site, Settings()).failure_mode is None
    no_severity = [f for f in SITE if f["name"] != "Severity"]
    with pytest.raises(ConfigError, match=r"^PIR_SEVERITY_FIELD: no field named 'Severity'"):
        resolve_fields(no_severity, Settings())


def test_an_id_the_site_does_not_have_is_an_error() -> None:
    with pytest.raises(
        ConfigError, match=r"PIR_SEVERITY_FIELD=customfield_99999: this Jira site has no field with that id"
    ):
        resolve_fields(SITE, Settings(severity_field="customfield_99999"))
    with pytest.raises(ConfigError, match="PIR_EPIC_LINK_FIELD=customfield_1"):
        resolve_fields(SITE, Settings(epic_link_field="customfield_1"))
