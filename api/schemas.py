"""The REST API's documents: what callers send (checked strictly: unknown fields,
NaN, infinities and out-of-range numbers are refused with the field's path) and
what they get back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from django.conf import settings
from ninja import Field, Schema
from pydantic import ConfigDict, StringConstraints

# JavaScript's largest safe integer: a seed every client can hold exactly.
MAX_SEED = 2**53 - 1
Name = Annotated[str, StringConstraints(min_length=1, max_length=60)]
SeatName = Literal["builtin", "remote_agent", "person"]


class Input(Schema):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class LimitsIn(Input):
    max_rounds: int | None = Field(None, ge=1, le=10_000)
    deadline_minutes: int | None = Field(None, ge=1, le=60 * 24 * 30)
    pace_seconds: float | None = Field(None, ge=0, le=settings.NEGOTIATOR_MAX_COUNTDOWN)


class NegotiationIn(Input):
    playbook: int = Field(..., ge=1, le=2**63 - 1, description="A playbook id from GET /playbooks.")
    title: str = Field("", max_length=200)
    seed: int | None = Field(None, ge=0, le=MAX_SEED, description="Same seed, same play.")
    limits: LimitsIn | None = None
    strategies: dict[Name, Name] = Field(
        default_factory=dict, max_length=20, description="Role → strategy, e.g. boulware."
    )
    seats: dict[Name, SeatName] = Field(
        default_factory=dict,
        max_length=20,
        description="Role → seat kind, where the playbook's role allows it.",
    )
    credential_days: int = Field(30, ge=1, le=366, description="Outside seats' credentials.")


class DecisionIn(Input):
    decision: Literal["approve", "reject", "request_changes"]
    comment: str = Field("", max_length=4000)
    constraints: list[Annotated[str, StringConstraints(max_length=200, pattern=r"^[^\r\n]*$")]] = (
        Field(
            default_factory=list,
            max_length=20,
            description="With request_changes: one constraint each, e.g. 'price <= 95000'.",
        )
    )


class ErrorDetail(Schema):
    field: str = ""
    message: str
    type: str = ""


class ErrorBody(Schema):
    code: str
    message: str
    details: list[ErrorDetail]


class ErrorOut(Schema):
    error: ErrorBody


class PlaybookRef(Schema):
    id: int
    name: str
    version: int


class Seat(Schema):
    role: str
    label: str
    seat: str
    strategy: str


class Turn(Schema):
    party: str
    since: datetime | None
    due_at: datetime | None


class NegotiationOut(Schema):
    id: int
    title: str
    status: str
    status_label: str
    playbook: PlaybookRef
    team: str | None
    round: int
    max_rounds: int
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    deal_value: float | None
    currency: str


class NegotiationDetailOut(NegotiationOut):
    outcome: str
    agreed_terms: dict[str, Any] | None
    deal_risk: float | None
    deadline: datetime | None
    whose_turn: Turn | None = Field(
        None, description="The outside seat the negotiation waits for; null while ours move."
    )
    seats: list[Seat]
    approval_request: int | None


class CredentialOut(Schema):
    role: str
    seat: str
    kind: str
    prefix: str
    expires_at: datetime
    token: str | None = Field(None, description="For an outside agent: shown only now.")
    invite_url: str | None = Field(None, description="For an outside person: shown only now.")


class NegotiationCreatedOut(Schema):
    negotiation: NegotiationDetailOut
    credentials: list[CredentialOut]


class Page(Schema):
    count: int
    page: int
    page_size: int


class NegotiationPage(Page):
    results: list[NegotiationOut]


class OfferOut(Schema):
    id: int
    round: int
    sender: str
    performative: str
    terms: dict[str, Any]
    fixed_terms_hash: str
    expires_at_round: int | None
    expires_at: datetime | None
    in_reply_to: int | None
    version: int
    rationale: str
    assumptions: list[Any]
    dependencies: list[Any]
    created_at: datetime
    utilities: dict[str, float] = Field(description="Only parties whose private data you see.")


class Cursor(Schema):
    next_after: int | None = Field(
        description="Pass as ?after= for the next page; null at the end."
    )


class OfferList(Cursor):
    results: list[OfferOut]


class PolicyRef(Schema):
    id: int
    name: str
    version: int
    kind: str


class CheckOut(Schema):
    id: int
    offer_id: int | None
    round: int
    sender: str
    stage: str
    policy: PolicyRef
    passed: bool
    severity: str
    outcome: str
    message: str
    evidence: dict[str, Any] | None
    hidden: bool
    created_at: datetime


class CheckList(Cursor):
    results: list[CheckOut]


class NegotiationRef(Schema):
    id: int
    title: str


class ApprovalOut(Schema):
    id: int
    status: str
    negotiation: NegotiationRef
    route: str
    approver_group: str
    terms: dict[str, Any]
    deal_value: float | None
    deal_risk: float | None
    currency: str
    approvals_required: int
    approvals_done: int
    due_at: datetime
    overdue: bool
    created_at: datetime
    decided_at: datetime | None
    outcome: str
    may_decide: bool
    why_not: str


class ApprovalPage(Page):
    results: list[ApprovalOut]


class RoleOut(Schema):
    name: str
    label: str
    strategy: str
    seats: list[str]


class PlaybookOut(Schema):
    id: int
    name: str
    description: str
    pattern: str
    team: str | None
    version: int
    currency: str
    limits: dict[str, Any]
    issues: list[dict[str, Any]]
    fixed_terms: dict[str, Any]
    roles: list[RoleOut]


class MeOut(Schema):
    username: str
    teams: list[str]
    may_start_negotiations: bool
    token: str = Field(description="The prefix of the token used.")
    token_expires_at: datetime
