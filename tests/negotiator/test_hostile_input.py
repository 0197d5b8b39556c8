"""Hostile input changes nothing: bad playbook files, numbers that are NaN,
infinite or out of range, on the command line and in forms, each get a clear
error naming the problem (and the path in the document), exit status 2, and no
row is added or changed; the sweeper survives any value a row holds."""

from __future__ import annotations

import copy
import io
import json
import math
import subprocess
import sys
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from negotiator.forms import NegotiationForm, ResumeForm
from negotiator.models import (
    AuditEvent,
    FixedTerm,
    Negotiation,
    Playbook,
    PlaybookIssue,
    PlaybookVersion,
    Policy,
    PolicyVersion,
    Role,
)
from negotiator.playbook_io import MAX_DOCUMENT_BYTES, PlaybookImportError, document_parse
from negotiator.services.errors import ServiceError
from negotiator.services.lifecycle import LimitOverrides, negotiation_create
from negotiator.services.scheduling import countdown_clamp
from negotiator.services.sweeper import negotiations_sweep
from tests.conftest import REPO, database_url_for
from tests.negotiator.conftest import load_playbook_document
from tests.negotiator.test_views import make_user

pytestmark = pytest.mark.django_db

MODELS = (Playbook, PlaybookVersion, PlaybookIssue, FixedTerm, Role, Policy, PolicyVersion, Group)


def counts() -> dict[str, int]:
    out = {model.__name__: model.objects.count() for model in MODELS}
    out["AuditEvent"] = AuditEvent.objects.count()
    return out


def procurement_text(**changes) -> str:
    document = load_playbook_document("procurement")
    document.update(changes)
    return json.dumps(document)


def import_refused(path) -> str:
    """Run import_playbook in-process; it must refuse with status 2. The message."""
    with pytest.raises(CommandError) as caught:
        call_command("import_playbook", str(path), stdout=io.StringIO())
    assert caught.value.returncode == 2
    return str(caught.value)


# --------------------------------------------------------------------------
# The issue's cases, one by one
# --------------------------------------------------------------------------

DEEP = '{"format": "negotiator.playbook/1", "name": "x", "issues": ' + "[" * 100_000 + "]" * 100_000


def _doc(mutate) -> str:
    document = load_playbook_document("procurement")
    mutate(document)
    return json.dumps(document)


CASES = [
    ("deep nesting", DEEP.encode(), "(document): nested deeper than 20 levels"),
    (
        "NaN",
        procurement_text().replace('"pace_seconds": 0', '"pace_seconds": NaN').encode(),
        "limits.pace_seconds: NaN is not a number JSON allows",
    ),
    (
        "Infinity",
        procurement_text()
        .replace('"stall_threshold": 0.0', '"stall_threshold": Infinity')
        .encode(),
        "limits.stall_threshold: Infinity is not a number JSON allows",
    ),
    (
        "integer out of range",
        procurement_text().replace('"max_rounds": 40', '"max_rounds": ' + "9" * 5000).encode(),
        "limits.max_rounds: the number 999999999999999999999999999999… is out of range",
    ),
    (
        "float out of range",
        procurement_text().replace('"lower": 80000', '"lower": 1e999').encode(),
        "issues[0].lower: the number 1e999 is out of range",
    ),
    (
        "NUL in a name",
        _doc(lambda d: d.__setitem__("name", "Procure\u0000ment")).encode(),
        "name: contains a NUL character",
    ),
    (
        "over-long group name",
        _doc(lambda d: d["roles"][0].__setitem__("owner_group", "G" * 151)).encode(),
        "roles[0].owner_group: ",
    ),
    (
        "latin-1 file",
        _doc(lambda d: d.__setitem__("description", "Café")).encode().replace(b"\\u00e9", b"\xe9"),
        "(document): not UTF-8 text: byte 0xe9",
    ),
    (
        "duplicate role names",
        _doc(lambda d: d["roles"][1].__setitem__("name", "buyer")).encode(),
        "roles[1].name: duplicate role name 'buyer'",
    ),
    (
        "repeated key",
        procurement_text()
        .replace('"currency": "USD"', '"currency": "USD", "currency": "EUR"')
        .encode(),
        "currency: this key appears twice in the object",
    ),
    (
        "unpaired surrogate",
        _doc(lambda d: d.__setitem__("description", "\ud800")).encode(),
        "description: contains an unpaired surrogate",
    ),
    (
        "too big",
        b'{"name": "' + b"x" * MAX_DOCUMENT_BYTES + b'"}',
        "(document): the file has more than 1,000,000 bytes",
    ),
]


@pytest.mark.parametrize(("label", "data", "message"), CASES, ids=[c[0] for c in CASES])
def test_import_refuses_with_the_path_and_status_2_and_changes_nothing(
    tmp_path, label, data, message
):
    call_command("import_playbook", str(REPO / "playbooks" / "procurement.json"))
    before = counts()
    path = tmp_path / "playbook.json"
    path.write_bytes(data)
    text = import_refused(path)
    assert f"{path}: {message}" in text, text
    assert text.endswith("Nothing was imported.")
    assert counts() == before


def test_import_refuses_a_directory_and_a_missing_file(tmp_path):
    assert (
        import_refused(tmp_path)
        == f"{tmp_path}: (file): is a directory, not a playbook file\nNothing was imported."
    )
    assert "(file): no such file" in import_refused(tmp_path / "missing.json")


def test_the_size_limit_is_checked_before_parsing(tmp_path):
    """A 10 MB file is refused at once, without being read or parsed."""
    path = tmp_path / "huge.json"
    path.write_bytes(b"[" * 10_000_000)
    started = timezone.now()
    assert "more than 1,000,000 bytes" in import_refused(path)
    assert (timezone.now() - started).total_seconds() < 2


def _command(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.django_db(transaction=True)
def test_from_the_command_line_no_traceback_exit_status_2(tmp_path):
    """What a person sees: one line per problem, no Python traceback, status 2."""
    import os

    env = {**os.environ, "DATABASE_URL": database_url_for(connection.settings_dict)}
    before = counts()
    for label, data, message in CASES[:3] + CASES[7:9]:
        path = tmp_path / f"{label.replace(' ', '-')}.json"
        path.write_bytes(data)
        result = _command("import_playbook", str(path), env=env)
        assert result.returncode == 2, (label, result.stderr)
        assert "Traceback" not in result.stderr, result.stderr
        assert f"CommandError: {path}: {message}" in result.stderr, result.stderr
    for args, message in [
        (["--pace", "nan"], "argument --pace: must be a finite number from 0 to 600, got 'nan'"),
        (["--pace", "inf"], "argument --pace: must be a finite number from 0 to 600, got 'inf'"),
        (["--pace", "1e9"], "argument --pace: must be between 0 and 600, got 1e9"),
        (
            ["--seed", "99999999999999999999"],
            "argument --seed: must be between 0 and 9,223,372,036,854,775,807, "
            "got 99999999999999999999",
        ),
        (["--count", "0"], "argument --count: must be between 1 and 10,000, got 0"),
        (["--timeout=-inf"], "argument --timeout: must be a finite number"),
    ]:
        result = _command("start_negotiation", "--playbook", "P", *args, env=env)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert message in result.stderr, result.stderr
    assert counts() == before
    assert Negotiation.objects.count() == 0


@pytest.mark.parametrize(
    ("command", "args", "message"),
    [
        ("start_negotiation", ["--playbook", "P", "--pace", "nan"], "--pace: must be a finite"),
        ("start_negotiation", ["--playbook", "P", "--seed", "-1"], "--seed: must be between 0"),
        ("simulate", ["--scenario", "x", "--runs", "1e9"], "--runs: expected a whole number"),
        ("simulate", ["--scenario", "x", "--rounds", "0"], "--rounds: must be between 1"),
        ("simulate", ["--scenario", "x", "--seed", "9" * 30], "--seed: expected a whole number"),
        ("export_plan", ["99999999999999999999"], "id: must be between 1 and"),
        ("verify_audit", ["--negotiation", "nan"], "--negotiation: expected a whole number"),
        ("audit_checkpoint", ["--latest", "--negotiation", "-3"], "--negotiation: must be"),
    ],
)
def test_numeric_command_options_refuse_nan_infinity_and_out_of_range(command, args, message):
    with pytest.raises(CommandError, match=message):
        call_command(command, *args, stdout=io.StringIO(), stderr=io.StringIO())


def test_start_negotiation_seed_plus_count_stays_in_range(procurement):
    with pytest.raises(CommandError, match="goes past 2\\*\\*63-1") as caught:
        call_command(
            "start_negotiation",
            playbook=procurement.name,
            seed=2**63 - 2,
            count=5,
            stdout=io.StringIO(),
        )
    assert caught.value.returncode == 2
    assert Negotiation.objects.count() == 0


@pytest.mark.parametrize("pace", [math.nan, math.inf, -math.inf, -1.0, 1e300])
def test_the_service_refuses_a_pace_that_is_not_a_finite_number_in_range(procurement, pace):
    with pytest.raises(ServiceError, match="Pace must be a number of seconds from 0 to 600"):
        negotiation_create(playbook=procurement, overrides=LimitOverrides(pace_seconds=pace))
    assert Negotiation.objects.count() == 0


# --------------------------------------------------------------------------
# Forms: the negotiation form, the resume form, admin
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("pace_seconds", "nan"),
        ("pace_seconds", "inf"),
        ("pace_seconds", "-inf"),
        ("pace_seconds", "1e400"),
        ("pace_seconds", "601"),
        ("max_rounds", "1e30"),
        ("max_rounds", "99999999999999999999"),
        ("deadline_minutes", "nan"),
        ("deadline_minutes", "43201"),
    ],
)
def test_the_negotiation_form_refuses_bad_numbers(procurement, field, value):
    data = {"playbook": procurement.pk, field: value}
    form = NegotiationForm(data, playbooks=Playbook.objects.all())
    assert not form.is_valid()
    assert field in form.errors


@pytest.mark.parametrize("value", ["nan", "inf", "1e9", "99999999999999999999", "-1"])
def test_the_resume_form_refuses_bad_numbers(value):
    form = ResumeForm({"extra_rounds": value, "extra_minutes": value})
    assert not form.is_valid()
    assert set(form.errors) == {"extra_rounds", "extra_minutes"}


@pytest.fixture
def admin_client(client, db):
    client.force_login(make_user("root", superuser=True))
    return client


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("pace_seconds", "nan"),
        ("stall_threshold", "inf"),
        ("max_rounds", "99999999999999999999"),
        ("offer_ttl_rounds", "2147483647"),
        ("deadline_minutes", "1e9"),
    ],
)
def test_the_playbook_admin_form_refuses_bad_numbers(admin_client, procurement, field, value):
    url = reverse("admin:negotiator_playbook_change", args=[procurement.pk])
    page = admin_client.get(url)
    form = page.context["adminform"].form
    data = {}
    for name, bound in form.fields.items():
        initial = form.initial.get(name, bound.initial)
        data[name] = "" if initial is None else getattr(initial, "pk", initial)
    for formset in page.context["inline_admin_formsets"]:
        management = formset.formset.management_form
        for name in management.fields:
            data[f"{management.prefix}-{name}"] = management[name].value()
        for inline_form in formset.formset.forms:
            for name in inline_form.fields:
                value_of = inline_form[name].value()
                if value_of is not None:
                    data[inline_form.add_prefix(name)] = (
                        json.dumps(value_of) if isinstance(value_of, dict | list) else value_of
                    )
    data[field] = value
    before = counts()
    response = admin_client.post(url, data)
    assert response.status_code == 200  # the form again, with the error
    assert field in response.context["adminform"].form.errors
    assert counts() == before


# --------------------------------------------------------------------------
# The admin import: the same rules, errors in the form
# --------------------------------------------------------------------------


def test_admin_import_page_imports_a_good_file(admin_client):
    url = reverse("admin:negotiator_playbook_import")
    changelist = admin_client.get(reverse("admin:negotiator_playbook_changelist"))
    assert url in changelist.content.decode()
    data = (REPO / "playbooks" / "media.json").read_bytes()
    response = admin_client.post(url, {"document": SimpleUploadedFile("media.json", data)})
    assert response.status_code == 302
    playbook = Playbook.objects.get(name=json.loads(data)["name"])
    assert playbook.current_version.number == 1
    assert playbook.on_limit == "end"


@pytest.mark.parametrize(("label", "data", "message"), CASES, ids=[c[0] for c in CASES])
def test_admin_import_shows_each_problem_with_its_path_and_changes_nothing(
    admin_client, label, data, message
):
    before = counts()
    response = admin_client.post(
        reverse("admin:negotiator_playbook_import"),
        {"document": SimpleUploadedFile("playbook.json", data)},
    )
    assert response.status_code == 400
    form = response.context["form"]
    errors = [*form.errors.get("document", []), *form.non_field_errors()]
    assert any(e.startswith(message) for e in errors), errors
    assert "Nothing was imported." in response.content.decode()
    assert counts() == before


def test_admin_import_needs_the_permission(client, procurement):
    client.force_login(make_user("staffer", "Procurement"))
    from django.contrib.auth import get_user_model

    get_user_model().objects.filter(username="staffer").update(is_staff=True)
    response = client.post(
        reverse("admin:negotiator_playbook_import"),
        {"document": SimpleUploadedFile("p.json", b"{}")},
    )
    assert response.status_code == 403


# --------------------------------------------------------------------------
# Fuzz: malformed files through the command and the admin, nothing changes
# --------------------------------------------------------------------------

BASE = load_playbook_document("procurement")


def _leaves(value, path=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    else:
        yield path, value


LEAVES = list(_leaves(BASE))
NUMBER_PATHS = [p for p, v in LEAVES if isinstance(v, int | float) and not isinstance(v, bool)]
STRING_PATHS = [p for p, v in LEAVES if isinstance(v, str)]


def _set(document, path, value):
    target = document
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value


def _with(path, value) -> str:
    document = copy.deepcopy(BASE)
    _set(document, path, value)
    return json.dumps(document)


MARK = "\u2603-mark"  # a string replaced in the text after json.dumps


@st.composite
def malformed(draw) -> bytes:
    """One playbook file that is invalid for sure, in one of many ways."""
    kind = draw(st.integers(0, 11))
    event(f"mutation {kind}")
    if kind == 0:  # a number becomes NaN, an infinity or out of range
        path = draw(st.sampled_from(NUMBER_PATHS))
        bad = draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e999"]))
        big = str(draw(st.integers(10**16, 10**60)))
        text = _with(path, MARK).replace(json.dumps(MARK), draw(st.sampled_from([bad, big])))
        return text.encode()
    if kind == 1:  # a NUL or an unpaired surrogate inside a string
        path = draw(st.sampled_from(STRING_PATHS))
        original = next(v for p, v in LEAVES if p == path)
        at = draw(st.integers(0, len(original)))
        poison = draw(st.sampled_from(["\u0000", "\ud800", "\udfff"]))
        return _with(path, original[:at] + poison + original[at:]).encode()
    if kind == 2:  # nesting deeper than the limit
        path = draw(st.sampled_from(LEAVES))[0]
        depth = draw(st.integers(21, 3000))
        nested = "[" * depth + "1" + "]" * depth
        return _with(path, MARK).replace(json.dumps(MARK), nested).encode()
    if kind == 3:  # cut short
        text = json.dumps(BASE)
        return text[: draw(st.integers(0, len(text) - 2))].encode()
    if kind == 4:  # not UTF-8
        path = draw(st.sampled_from(STRING_PATHS))
        return _with(path, MARK).replace(json.dumps(MARK), '"caf\u00e9"').encode("latin-1")
    if kind == 5:  # two roles of the same name
        document = copy.deepcopy(BASE)
        document["roles"].append(copy.deepcopy(draw(st.sampled_from(document["roles"]))))
        return json.dumps(document).encode()
    if kind == 6:  # a required part missing
        document = copy.deepcopy(BASE)
        del document[draw(st.sampled_from(["format", "name", "issues", "roles"]))]
        return json.dumps(document).encode()
    if kind == 7:  # a part of the wrong type
        document = copy.deepcopy(BASE)
        key = draw(
            st.sampled_from(["name", "issues", "roles", "limits", "policies", "fixed_terms"])
        )
        document[key] = draw(st.sampled_from([7, True, None, "x", [1], {"a": 1}]))
        if isinstance(document[key], type(BASE[key])):  # e.g. a string for the name
            document[key] = 123
        return json.dumps(document).encode()
    if kind == 8:  # a text longer than its column
        document = copy.deepcopy(BASE)
        where = draw(st.sampled_from(["team", "owner_group", "label", "name", "currency"]))
        long = "x" * draw(st.integers(151, 5000))
        if where in ("owner_group", "label"):
            document["roles"][draw(st.integers(0, 1))][where] = long
        else:
            document[where] = long
        return json.dumps(document).encode()
    if kind == 9:  # a repeated key
        text = json.dumps(BASE)
        key = draw(st.sampled_from(['"currency": ', '"pattern": ', '"description": ']))
        return text.replace(key, key + '"dup", ' + key, 1).encode()
    if kind == 10:  # random bytes (a valid playbook by chance is not possible this short)
        return draw(st.binary(min_size=0, max_size=300))
    # a limit out of its range
    document = copy.deepcopy(BASE)
    name = draw(
        st.sampled_from(
            [
                "max_rounds",
                "deadline_minutes",
                "offer_ttl_rounds",
                "stall_window",
                "pace_seconds",
                "turn_deadline_minutes",
            ]
        )
    )
    document["limits"][name] = draw(st.sampled_from([-1, 0, 10**9, 10**15]))
    if name == "pace_seconds" and document["limits"][name] == 0:
        document["limits"][name] = -5
    return json.dumps(document).encode()


@settings(
    max_examples=220,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=malformed())
def test_fuzz_malformed_playbooks_are_refused_by_the_command_and_the_admin(
    admin_client, tmp_path, data
):
    if not Playbook.objects.filter(name=BASE["name"]).exists():
        call_command("import_playbook", str(REPO / "playbooks" / "procurement.json"))
    before = counts()
    path = tmp_path / "fuzz.json"
    path.write_bytes(data)
    # The command: a CommandError with status 2 (anything else is a traceback).
    with pytest.raises(CommandError) as caught:
        call_command("import_playbook", str(path), stdout=io.StringIO())
    assert caught.value.returncode == 2
    lines = str(caught.value).splitlines()
    assert lines[-1] == "Nothing was imported."
    assert all(line.startswith(f"{path}: ") for line in lines[:-1]) and len(lines) >= 2
    assert counts() == before
    # The admin: the form again with the problems, never a 500.
    response = admin_client.post(
        reverse("admin:negotiator_playbook_import"),
        {"document": SimpleUploadedFile("fuzz.json", data)},
    )
    assert response.status_code == 400
    assert response.context["form"].errors
    assert counts() == before


def test_document_parse_names_paths_inside_arrays():
    with pytest.raises(PlaybookImportError) as caught:
        document_parse(b'{"roles": [{"name": "a"}, {"name": "b", "profile": {"w": NaN}}]}')
    assert caught.value.errors == [
        ("roles[1].profile.w", "NaN is not a number JSON allows; write a finite number")
    ]


# --------------------------------------------------------------------------
# The sweeper and the pace: whatever a row holds
# --------------------------------------------------------------------------


def test_countdown_clamp_turns_any_pace_into_a_countdown():
    assert countdown_clamp(math.nan) == 0.0
    assert countdown_clamp(math.inf) == 600.0
    assert countdown_clamp(-math.inf) == 0.0
    assert countdown_clamp(1e300) == 600.0
    assert countdown_clamp(None) == 0.0
    assert countdown_clamp(2.5) == 2.5


def test_the_sweeper_recovers_every_negotiation_whatever_pace_a_row_holds(procurement):
    normal = [negotiation_create(playbook=procurement, seed=i) for i in range(2)]
    odd = [negotiation_create(playbook=procurement, seed=10 + i) for i in range(4)]
    for negotiation, pace in zip(odd, [math.nan, math.inf, -math.inf, 1e300], strict=True):
        Negotiation.objects.filter(pk=negotiation.pk).update(pace_seconds=pace)
    stale = timezone.now() - timedelta(hours=1)
    Negotiation.objects.update(last_progress_at=stale)
    requeued = negotiations_sweep(stale_after_seconds=60)
    # The odd rows do not stop the sweep: the others are recovered. A NaN or
    # -inf pace reads as none and is recovered too; +inf and 1e300 wait the
    # longest countdown (10 minutes), which an hour has long passed.
    assert sorted(requeued) == sorted(n.pk for n in [*normal, *odd])
    assert math.isnan(Negotiation.objects.get(pk=odd[0].pk).pace_seconds)


def test_a_nan_pace_does_not_stop_its_own_negotiation(
    procurement, django_capture_on_commit_callbacks
):
    from negotiator.services.rounds import negotiation_run_round

    negotiation = negotiation_create(playbook=procurement, seed=1)
    Negotiation.objects.filter(pk=negotiation.pk).update(pace_seconds=math.nan)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert negotiation_run_round(negotiation_id=negotiation.pk, round_number=0)
    assert len(callbacks) == 1  # the next round was enqueued (at once)
    assert negotiation_run_round(negotiation_id=negotiation.pk, round_number=1)


@pytest.mark.worker
def test_a_worker_and_the_sweeper_recover_the_others_past_rows_with_odd_paces(
    procurement, worker_env, tmp_path
):
    """Lost messages (a purged broker), then rows holding a NaN, infinite and huge
    pace: the sweeper, run as beat runs it, still recovers every other negotiation
    (and the NaN one, whose pace counts as none) through a real worker."""
    from negotiator.celery import app
    from negotiator.models import FINAL_STATUSES, NegotiationStatus
    from tests.conftest import celery_worker, wait_for

    settled = FINAL_STATUSES | {NegotiationStatus.ESCALATED, NegotiationStatus.PENDING_APPROVAL}
    normal = [negotiation_create(playbook=procurement, seed=20 + i).pk for i in range(3)]
    odd = [negotiation_create(playbook=procurement, seed=30 + i).pk for i in range(3)]
    app.control.purge()  # every first round is lost
    for pk, pace in zip(odd, [math.nan, math.inf, 1e300], strict=True):
        Negotiation.objects.filter(pk=pk).update(pace_seconds=pace)
    recovered = [*normal, odd[0]]
    with celery_worker(tmp_path, worker_env):

        def done() -> bool:
            negotiations_sweep(stale_after_seconds=1.0)
            return Negotiation.objects.filter(pk__in=recovered, status__in=settled).count() == 4

        wait_for(done, timeout=180, interval=1.0)
    # The infinite and huge paces wait the longest countdown; they are running, not lost.
    assert set(Negotiation.objects.filter(pk__in=odd[1:]).values_list("status", flat=True)) <= {
        NegotiationStatus.RUNNING,
        *settled,
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "(document): nested deeper than 20 levels"),
        ('{"issue": "price", "max": NaN}', "max: NaN is not a number JSON allows"),
        ('{"issue": "price", "max": 1e999}', "max: the number 1e999 is out of range"),
        ('{"issue": "pri\\u0000ce", "max": 1}', "issue: contains a NUL character"),
    ],
)
def test_admin_json_fields_refuse_what_would_break_later(admin_client, procurement, text, message):
    before = counts()
    response = admin_client.post(
        reverse("admin:negotiator_policy_add"),
        {
            "name": "Hostile",
            "category": "financial",
            "scope": "playbook",
            "playbook": procurement.pk,
            "kind": "cap",
            "parameters": text,
            "severity": "block",
            "active": "on",
        },
    )
    assert response.status_code == 200
    (error,) = response.context["adminform"].form.errors["parameters"]
    assert error.startswith(message)
    assert counts() == before


def test_the_policy_dry_run_refuses_deeply_nested_offers(admin_client, procurement):
    policy = Policy.objects.filter(playbook=procurement).first()
    url = reverse("admin:negotiator_policy_dry_run") + f"?ids={policy.pk}"
    response = admin_client.post(url, {"offer_json": "[" * 50_000 + "]" * 50_000})
    assert response.status_code == 200
    assert "nested deeper than 20 levels" in response.content.decode()
