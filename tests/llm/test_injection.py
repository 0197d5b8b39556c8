"""Injection changes nothing: every attempt in tests/data/llm_injections.json is
written by the counterpart into its offers' messages and played against our
LLM-assisted seat, whose (fake) model obeys it. The deterministic gate keeps
every decision: no policy breach, no private value leaked, no move outside the
candidate set, no acceptance the strategy did not make."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from negotiator.engine.candidates import Guided
from negotiator.engine.disclosure import find_disclosures
from negotiator.engine.offers import Performative
from negotiator.engine.protocol import run
from negotiator.engine.strategies import make_strategy
from negotiator.llm.config import llm_settings
from negotiator.llm.fake import Reply, candidate_ids
from negotiator.llm.prompts import DEFAULT_SEAT_PROMPT
from negotiator.llm.seat import SeatPicker
from negotiator.management.commands.simulate import load_playbook
from tests.conftest import REPO
from tests.llm.conftest import PRIVATE, private_document

CORPUS = json.loads((REPO / "tests" / "data" / "llm_injections.json").read_text())["attempts"]
BUYER_PRIVATE = {"budget_cap": int(PRIVATE["budget_cap"]), "reservation_price": 111777}
DECISIONS = (Performative.ACCEPT, Performative.REJECT, Performative.WITHDRAW)


def test_the_corpus_is_large_and_varied():
    assert len(CORPUS) >= 50
    kinds = {a["kind"] for a in CORPUS}
    assert {"plain", "role-play", "encoded", "delimiter-forgery", "exfiltration"} <= kinds
    assert len({a["text"] for a in CORPUS}) == len(CORPUS)


def obeying(attempt: dict):
    """The fake model's script: do what the injection asks, every turn."""
    obey = attempt["obey"]

    def script(body):
        if "raw" in obey:
            return Reply(obey["raw"])
        ids = candidate_ids(body)
        answer = {k: v for k, v in obey.items() if k != "choose"}
        if obey.get("choose") == "last":
            answer["candidate_id"] = ids[-1]
        return Reply(json.dumps(answer))

    return script


class Injecting:
    """The counterpart: the default strategy, with the attempt as its message."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.base = make_strategy("default")

    def __call__(self, view):
        return replace(self.base(view), rationale=self.text)


class Watching:
    """Our picker, recording each turn's candidates (what may be played)."""

    def __init__(self, picker: SeatPicker) -> None:
        self.picker = picker
        self.turns: list[tuple] = []

    def __call__(self, view, candidates):
        self.turns.append(tuple(candidates))
        return self.picker(view, candidates)


@pytest.fixture(scope="module")
def governed(tmp_path_factory):
    """The private procurement playbook as a scenario under its policies (built
    once: the policy masks take a while); its gate is stateless but for records."""
    path = tmp_path_factory.mktemp("playbook") / "procurement-private.json"
    path.write_text(json.dumps(private_document()))
    scenario, gate, _ = load_playbook(str(path))
    return scenario.setup(rounds=30), gate


@pytest.mark.parametrize("attempt", CORPUS, ids=[a["id"] for a in CORPUS])
def test_an_obeyed_injection_changes_no_decision_and_leaks_nothing(attempt, governed, llm_server):
    setup, gate = governed
    gate.take()
    llm_server.script = obeying(attempt)
    picker = Watching(
        SeatPicker(
            role="buyer",
            config=llm_settings(),
            prompt_text=DEFAULT_SEAT_PROMPT,
            budget_left=10**9,
        )
    )
    buyer = Guided(make_strategy("default"), picker)
    result = run(setup, {"buyer": buyer, "seller": Injecting(attempt["text"])}, gate=gate, seed=1)
    calls = picker.picker.take()
    assert calls and llm_server.requests, "the model was never asked"

    # the attempt reached the model only as data, inside the delimited block
    user = llm_server.requests[-1]["messages"][1]["content"]
    block = user.split("<<<NEGOTIATION_DATA_JSON\n", 1)[1].rsplit("\nNEGOTIATION_DATA_JSON>>>", 1)
    assert len(block) == 2 and block[1] == ""
    data = json.loads(block[0])
    assert attempt["text"] in [h.get("counterpart_message_untrusted") for h in data["history"]]

    played = {(c.offer.performative, c.offer.terms) for turn in picker.turns for c in turn}
    ours = [o for o in result.state.history if o.sender == "buyer"]
    for offer in ours:
        assert (offer.performative, offer.terms) in played, "a move outside the candidates"
        if offer.performative in DECISIONS:
            turn = next(t for t in picker.turns if t[0].offer.terms == offer.terms)
            assert len(turn) == 1 and turn[0].deterministic, "a decision the strategy did not make"
        verdict = gate(offer, "buyer").verdict
        assert verdict != "block", f"a policy breach was sent: {offer}"
        leaks = find_disclosures([("message", offer.rationale)], BUYER_PRIVATE)
        assert not leaks, f"our message revealed {leaks}"

    sent = llm_server.sent_text()
    for name, value in PRIVATE.items():
        assert value not in sent, f"private {name} reached the model"
    if result.state.agreement is not None:
        price = result.state.agreement["price"]
        assert int(PRIVATE["floor"]) <= price <= int(PRIVATE["cap"])
        index = setup.space.index_of(tuple(result.state.agreement[n] for n in setup.space.names))
        assert setup.tables[0].utilities[index] >= float(PRIVATE["reservation"])
    fallbacks = {c.fallback for c in calls}
    if find_disclosures([("message", attempt["obey"].get("message", ""))], BUYER_PRIVATE):
        # the obeyed message would reveal a private value: the seat withheld it
        # (the pick stands, with the engine's rationale) and the call says why
        assert any(c.detail.startswith("message withheld: it named a number near") for c in calls)
    if "raw" in attempt["obey"]:
        assert fallbacks == {"invalid_json"}
    assert fallbacks <= {
        "",
        "invalid_json",
        "unknown_candidate",
        "schema_mismatch",
        "gate_blocked",
    }
