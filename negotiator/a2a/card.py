"""Our agent card: who we are, the one skill (negotiate at your seat), how to
authenticate (HTTP bearer: the seat's token), the JSON-RPC endpoint, and the
offer schema a seat's data part must follow. It names no negotiation, no
policy and no profile: anyone may read it."""

from __future__ import annotations

from a2a.types import (
    AgentCapabilities,
    AgentCard,
    AgentExtension,
    AgentInterface,
    AgentProvider,
    AgentSkill,
    HTTPAuthSecurityScheme,
    SecurityRequirement,
    SecurityScheme,
    StringList,
)
from a2a.utils.constants import PROTOCOL_VERSION_1_0, TransportProtocol
from google.protobuf.json_format import ParseDict
from google.protobuf.struct_pb2 import Struct

from negotiator.a2a.offers import seat_offer_schema

AGENT_VERSION = "1.0.0"
SECURITY_SCHEME = "seatToken"
OFFER_EXTENSION_URI = "https://negotiator.example/a2a/extensions/seat-offer/v1"
MEDIA = ["application/json", "text/plain"]


def agent_card(*, rpc_url: str, schema_url: str, docs_url: str) -> AgentCard:
    """The public card, with absolute URLs of this deployment."""
    return AgentCard(
        name="Negotiator",
        description=(
            "Governed negotiation: answer our offers at your seat with structured "
            "counteroffers. Every offer is checked against our policies before it is "
            "played; agreements above thresholds wait for a person on our side."
        ),
        supported_interfaces=[
            AgentInterface(
                url=rpc_url,
                protocol_binding=TransportProtocol.JSONRPC.value,
                protocol_version=PROTOCOL_VERSION_1_0,
            )
        ],
        provider=AgentProvider(organization="Negotiator", url=docs_url),
        version=AGENT_VERSION,
        documentation_url=docs_url,
        capabilities=AgentCapabilities(
            streaming=False,
            push_notifications=False,
            extended_agent_card=False,
            extensions=[
                AgentExtension(
                    uri=OFFER_EXTENSION_URI,
                    description=(
                        "A SendMessage carries the seat's move as one data part that "
                        f"follows the offer schema ({schema_url}), and optionally text "
                        "parts with its rationale."
                    ),
                    required=False,
                    params=ParseDict(
                        {"offer_schema_url": schema_url, "offer_schema": seat_offer_schema()},
                        Struct(),
                    ),
                )
            ],
        ),
        security_schemes={
            SECURITY_SCHEME: SecurityScheme(
                http_auth_security_scheme=HTTPAuthSecurityScheme(
                    scheme="bearer",
                    bearer_format="opaque seat token (nt_…)",
                    description=(
                        "The token issued for your seat of one negotiation; it opens "
                        "that seat only. It expires and can be revoked."
                    ),
                )
            )
        },
        security_requirements=[SecurityRequirement(schemes={SECURITY_SCHEME: StringList()})],
        default_input_modes=MEDIA,
        default_output_modes=MEDIA,
        skills=[
            AgentSkill(
                id="negotiate",
                name="Negotiate at your seat",
                description=(
                    "Your task is your seat's negotiation (ListTasks shows it). When it is "
                    "input-required, send SendMessage with one data part: performative "
                    "(counter, accept, reject or withdraw), terms within the outcome space "
                    "in the task's metadata, and the fixed_terms_hash given there. The "
                    "reply is our answer, computed at once. CancelTask withdraws."
                ),
                tags=["negotiation", "procurement", "offers"],
                examples=[
                    '{"performative": "counter", "terms": {"price": 110000, '
                    '"delivery_days": 10, "warranty_months": 12}, '
                    '"fixed_terms_hash": "<from the task metadata>"}'
                ],
                input_modes=MEDIA,
                output_modes=MEDIA,
            ),
            AgentSkill(
                id="tender-bid",
                name="Bid in a tender",
                description=(
                    "With a bidder token (nb_…) your task is your bid in one tender "
                    "(ListTasks shows it, with the tender's issues and the feedback its "
                    "format allows in the status message's data part). While it is "
                    'input-required, send SendMessage with one data part {"terms": {…}} '
                    "giving every issue; in rounds a bid must beat what the feedback shows "
                    "by the minimum decrement. The reply is the task with your bid received; "
                    "it is played when the round closes. A bid cannot be canceled."
                ),
                tags=["tender", "auction", "bids"],
                examples=[
                    '{"terms": {"price": 122700, "delivery_days": 15, "warranty_months": 36}}'
                ],
                input_modes=MEDIA,
                output_modes=MEDIA,
            ),
        ],
    )
