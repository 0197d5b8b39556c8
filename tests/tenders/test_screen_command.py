"""manage.py screen_tenders: the same screens as live tenders, over a CSV history."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

HEADER = "tender_id,date,supplier,bid,item,winner,owner,contact\n"
RIGGED = "".join(
    f"R{i},2025-03-{i + 1:02d},{s},{a},valve,{1 if s == w else 0},,\n"
    for i, w in enumerate("abcabc")
    for s, a in (
        ("a", 100 if w == "a" else 105 + i / 10),
        ("b", 100 if w == "b" else 105.4 + i / 10),
        ("c", 100 if w == "c" else 105.9 + i / 10),
        ("d", 106.3 + i / 10),
    )
)
FAIR = (
    "F1,2025-04-01,p,100,bolt,1,Owner P,p@example.com\n"
    "F1,2025-04-01,q,104,bolt,0,Owner Q,q@example.com\n"
    "F1,2025-04-01,r,109,bolt,0,,\n"
    "F1,2025-04-01,s,113,bolt,0,,\n"
    "F1,2025-04-01,t,121,bolt,0,,\n"
)


def run(tmp_path, text, *args):
    path = tmp_path / "history.csv"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    out = StringIO()
    call_command("screen_tenders", str(path), *args, stdout=out)
    return out.getvalue()


def test_json_gives_one_object_per_tender_with_values_score_and_flags(tmp_path):
    lines = run(tmp_path, HEADER + RIGGED + FAIR, "--json").splitlines()
    rows = {r["tender_id"]: r for r in map(json.loads, lines)}
    assert list(rows) == ["R0", "R1", "R2", "R3", "R4", "R5", "F1"]
    rigged, fair = rows["R5"], rows["F1"]
    assert rigged["needs_person"] and rigged["suspicion"] >= 0.55
    assert {"suspicion", "rotation"} <= {f["name"] for f in rigged["flags"]}
    assert all(f["sentence"] for f in rigged["flags"])
    assert rigged["winner"] == "c" and rigged["bidders"] == 4
    assert fair["flags"] == [] and not fair["needs_person"]
    assert set(fair["values"]) >= {"cv", "kurtosis", "skewness", "relative_distance"}


def test_text_output_names_each_tender_and_sums_up(tmp_path):
    out = run(tmp_path, HEADER + RIGGED + FAIR)
    assert out.splitlines()[0].startswith("R0 2025-03-01 bidders=4 suspicion=")
    assert out.strip().endswith("7 tenders screened, 6 flagged for a person.")


def test_shared_owners_come_from_the_owner_and_contact_columns(tmp_path):
    text = HEADER + FAIR.replace("Owner Q,q@example.com", "Owner P,q@example.com")
    row = json.loads(run(tmp_path, text, "--json"))
    assert [f["name"] for f in row["flags"]] == ["shared_owner"]
    assert "p and q share an owner" in row["flags"][0]["sentence"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (HEADER + "T1,2025-01-01,a,abc,,,,\n", "line 2: bid 'abc' is not a number"),
        (HEADER + "T1,2025-01-01,a,10,,,,\nT1,2025-01-01,a,12,,,,\n", "line 3: a bids twice"),
        (HEADER + "T1,01/02/2025,a,10,,,,\n", "line 2: date '01/02/2025' is not an ISO date"),
        (HEADER + "T1,2025-01-01,a,-5,,,,\n", "line 2: bid must be a positive finite number"),
        (HEADER + "T1,2025-01-01,a,nan,,,,\n", "line 2: bid must be a positive finite number"),
        (HEADER + "T1,2025-01-01,a,10,,maybe,,\n", "line 2: winner 'maybe' must be"),
        (
            HEADER + "T1,2025-01-01,a,10,,1,,\nT1,2025-01-01,b,11,,1,,\n",
            "line 3: tender T1 already has a winner",
        ),
        (HEADER + "T1,2025-01-01,a,10\n", "line 2: wrong number of fields"),
        ("tender_id,supplier,bid\nT1,a,10\n", "line 1: missing column(s): date"),
        ("tender_id,date,supplier,bid,colour\n", "line 1: unknown column(s): colour"),
        ("", "line 1: the file is empty"),
        (HEADER, "line 2: no bids in the file"),
        (b"tender_id,date,supplier,bid\nT1,2025-01-01,\xff,1\n", "not UTF-8"),
    ],
)
def test_a_malformed_file_names_the_line_and_screens_nothing(tmp_path, text, message):
    out = StringIO()
    path = tmp_path / "bad.csv"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    with pytest.raises(CommandError) as caught:
        call_command("screen_tenders", str(path), "--json", stdout=out)
    assert message in str(caught.value)
    assert "nothing screened" in str(caught.value)
    assert caught.value.returncode == 2
    assert out.getvalue() == ""


def test_a_good_row_after_a_bad_one_is_not_screened(tmp_path):
    text = HEADER + "T1,2025-01-01,a,10,,,,\nT2,2025-01-01,b,zero,,,,\nT3,2025-01-01,c,10,,,,\n"
    with pytest.raises(CommandError, match="line 3"):
        run(tmp_path, text, "--json")


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("screen_tenders", str(tmp_path / "none.csv"))
