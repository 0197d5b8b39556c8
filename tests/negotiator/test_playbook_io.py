"""Playbooks as code: import, export, versioning, all-or-nothing errors."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from negotiator.models import Playbook, PlaybookVersion, Policy, PolicyVersion
from negotiator.playbook_io import (
    PlaybookImportError,
    playbook_export,
    playbook_import,
    playbook_schema,
)
from tests.conftest import REPO
from tests.negotiator.conftest import load_playbook_document

SHIPPED = ["procurement", "saas", "media"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_playbooks_match_the_schema(name):
    jsonschema.validate(load_playbook_document(name), playbook_schema())


@pytest.mark.django_db
@pytest.mark.parametrize("name", SHIPPED)
def test_export_then_import_gives_the_same_playbook(name):
    document = load_playbook_document(name)
    playbook = playbook_import(document)
    exported = playbook_export(playbook)
    jsonschema.validate(exported, playbook_schema())
    version = playbook.current_version
    again = playbook_import(json.loads(json.dumps(exported)))
    assert again.pk == playbook.pk
    assert again.current_version == version  # nothing changed: no new version
    assert playbook_export(again) == exported
    assert PolicyVersion.objects.filter(policy__playbook=playbook).count() == len(
        document["policies"]
    )


@pytest.mark.django_db
def test_reimporting_a_changed_file_makes_new_versions_and_keeps_old_ones():
    document = load_playbook_document("procurement")
    playbook = playbook_import(document)
    v1 = playbook.current_version
    floor = Policy.objects.get(playbook=playbook, name="Price floor")
    floor_v1 = floor.current_version

    changed = copy.deepcopy(document)
    changed["limits"]["max_rounds"] = 60
    changed["policies"][0]["parameters"]["min"] = 86000
    changed["policies"] = [p for p in changed["policies"] if p["name"] != "Supplier margin"]
    playbook = playbook_import(changed)

    assert playbook.current_version.number == v1.number + 1
    assert PlaybookVersion.objects.get(pk=v1.pk).spec["limits"]["max_rounds"] == 40
    floor.refresh_from_db()
    assert floor.current_version.number == floor_v1.number + 1
    assert PolicyVersion.objects.get(pk=floor_v1.pk).parameters["min"] == 85000
    margin = Policy.objects.get(playbook=playbook, name="Supplier margin")
    assert margin.active is False and margin.current_version.number == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("mutate", "path", "expected"),
    [
        (
            lambda d: d["policies"][2]["parameters"].update(max="thirty"),
            "policies[2].parameters.max",
            "number",
        ),
        (
            lambda d: d["policies"][0]["parameters"].update(issue="prise"),
            "policies[0].parameters.issue",
            "prise",
        ),
        (lambda d: d["issues"][0].pop("lower"), "issues[0]", "lower"),
        (lambda d: d["roles"][0].update(strategy="telepathy"), "roles[0].strategy", "telepathy"),
        (lambda d: d.update(format="something/2"), "format", "negotiator.playbook/1"),
        (
            lambda d: d["policies"][7]["parameters"].update(expression="terms.price >"),
            "policies[7].parameters.expression",
            "",
        ),
        (lambda d: d["policies"][5].update(role="buyer2"), "policies[5].role", "buyer2"),
    ],
)
def test_a_bad_document_changes_nothing_and_names_the_path(mutate, path, expected):
    document = load_playbook_document("procurement")
    mutate(document)
    with pytest.raises(PlaybookImportError) as info:
        playbook_import(document)
    paths = [p for p, _ in info.value.errors]
    assert path in paths, info.value.errors
    message = dict(info.value.errors)[path]
    assert expected in message
    assert not Playbook.objects.exists()
    assert not Policy.objects.exists()


@pytest.mark.django_db
def test_a_failing_import_leaves_an_existing_playbook_untouched():
    document = load_playbook_document("procurement")
    playbook = playbook_import(document)
    before = playbook_export(playbook)
    broken = copy.deepcopy(document)
    broken["limits"]["max_rounds"] = 99
    broken["policies"][1]["parameters"]["max"] = "lots"
    with pytest.raises(PlaybookImportError):
        playbook_import(broken)
    assert playbook_export(Playbook.objects.get(pk=playbook.pk)) == before


@pytest.mark.django_db
def test_import_and_export_commands(tmp_path, capsys):
    call_command("import_playbook", str(REPO / "playbooks" / "saas.json"))
    call_command("export_playbook", "SaaS contract bundle")
    out = capsys.readouterr().out
    exported = json.loads(out[out.index("{") :])
    assert exported["name"] == "SaaS contract bundle"

    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("import_playbook", str(bad))
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_playbook", str(tmp_path / "missing.json"))
    with pytest.raises(CommandError, match="No playbook named"):
        call_command("export_playbook", "Nope")
    doc = load_playbook_document("media")
    doc["policies"][0]["severity"] = "fatal"
    bad.write_text(json.dumps(doc))
    with pytest.raises(CommandError, match=r"policies\[0\]\.severity"):
        call_command("import_playbook", str(bad))
