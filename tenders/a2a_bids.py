"""A supplier's agent bidding in a tender over A2A: the same JSON-RPC endpoint and
envelope checks as a negotiation seat (negotiator.a2a.server.rpc_handle), with a
bidder's bearer token (``nb_…``) and these methods:

- SendMessage: one data part ``{"terms": {...}}`` (the bid: every issue of the
  tender, the price in its price issue), an optional text part; the reply is the
  bidder's task with the bid received. The same messageId again is answered the
  same and changes nothing.
- GetTask / ListTasks: the bidder's one task: its state (input-required while
  bidding is open, working while the award is decided, completed when it won,
  rejected when it did not or no award was made, canceled when the buyer
  cancelled) and, as the status message's data part, the feedback the format
  allows (engine.auctions.outside_view): its rank, the best score or not, its
  own standing bid, the price at which its terms would stand now.
- CancelTask: refused; a bid is binding until the tender closes.

Nothing else of the tender is reachable with the token: not another bidder, not
the reserve, not a private cost, not our policies.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import math
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from a2a.server.request_handlers.response_helpers import build_error_response
from a2a.server.routes.jsonrpc_dispatcher import JsonRpcDispatcher
from a2a.types import (
    GetTaskRequest,
    ListTasksRequest,
    ListTasksResponse,
    Message,
    Part,
    Role,
    SendMessageRequest,
    SendMessageResponse,
    Task,
    TaskState,
    TaskStatus,
)
from a2a.utils.errors import (
    InvalidParamsError,
    TaskNotCancelableError,
    TaskNotFoundError,
    UnsupportedOperationError,
)
from a2a.utils.task import apply_history_length, validate_history_length, validate_page_size
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from google.protobuf.json_format import MessageToDict, ParseDict
from google.protobuf.struct_pb2 import Value
from google.protobuf.timestamp_pb2 import Timestamp

from negotiator.a2a.errors import RateLimited
from negotiator.a2a.errors import Unauthenticated as Unauthorised
from negotiator.a2a.guard import client_address
from negotiator.a2a.messages import message_parts
from negotiator.a2a.server import Call, not_offered, rpc_handle
from negotiator.portal.ratelimit import LimiterUnavailable, rate_allow
from negotiator.services.errors import NotAllowed
from tenders.models import BidderCredential, BidderKind, TenderBidder, TenderStatus
from tenders.services import outside

TOKEN_PREFIX = outside.TOKEN_PREFIX


def bid_rpc(request: HttpRequest, token: str, body: bytes) -> JsonResponse:
    """An agent bidder's JSON-RPC request (the size limit is checked already):
    credential → rate limit → one call → the use recorded."""
    try:
        credential = outside.bidder_credential_verify(secret=token, kind=BidderKind.REMOTE_AGENT)
    except NotAllowed:
        error = Unauthorised("This credential is not valid.")
        response = JsonResponse(build_error_response(None, error.as_jsonrpc()), status=401)
        response["WWW-Authenticate"] = 'Bearer realm="negotiator-a2a"'
        return response
    try:
        allowed = rate_allow(
            f"a2a:bid:{credential.pk}", limit=settings.A2A_RATE_PER_MINUTE, window=60
        )
    except LimiterUnavailable:
        allowed = False  # fail closed: no limiter, no bids
    if not allowed:
        error = RateLimited(
            f"More than {settings.A2A_RATE_PER_MINUTE} requests a minute with this "
            "credential (or the limiter is down); nothing was done. Retry after 60 s."
        )
        response = JsonResponse(build_error_response(None, error.as_jsonrpc()), status=429)
        response["Retry-After"] = "60"
        return response
    # the bid re-checks its credential under the tender's lock (a revocation may
    # have committed since it was verified above)
    handlers = {**HANDLERS, "SendMessage": functools.partial(send_message, credential=credential)}
    answer = rpc_handle(body, request.headers, credential.bidder, handlers=handlers)
    outside.bidder_credential_use_record(
        credential=credential, address=client_address(request), what=answer.outcome
    )
    return JsonResponse(answer.body)


# --------------------------------------------------------------------------
# The bidder's task
# --------------------------------------------------------------------------


def _tag(kind: str, bidder: TenderBidder) -> str:
    what = f"a2a-bid-{kind}:{bidder.tender_id}:{bidder.pk}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), what, hashlib.sha256).hexdigest()[:32]


def task_id_for(bidder: TenderBidder) -> str:
    return "bid-" + _tag("task", bidder)


def context_id_for(bidder: TenderBidder) -> str:
    return "bidctx-" + _tag("context", bidder)


def bidder_state(page: outside.BidderPage) -> tuple[int, str]:
    tender = page.tender
    if tender.status == TenderStatus.RUNNING:
        if page.open:
            if page.pending is not None:
                return TaskState.TASK_STATE_INPUT_REQUIRED, (
                    "Your bid for this round is in; you may replace it until the round is played."
                )
            return TaskState.TASK_STATE_INPUT_REQUIRED, "Bidding is open: send your bid."
        return TaskState.TASK_STATE_WORKING, "The sealed bids are in: the award is being decided."
    if tender.status in (TenderStatus.PENDING_APPROVAL, TenderStatus.ESCALATED):
        return TaskState.TASK_STATE_WORKING, "Bidding has closed: the award is being decided."
    if tender.status == TenderStatus.AWARDED:
        if tender.award_supplier == page.bidder.supplier.name:
            return TaskState.TASK_STATE_COMPLETED, "You won this tender."
        return TaskState.TASK_STATE_REJECTED, "The tender was awarded to another bidder."
    if tender.status == TenderStatus.CANCELLED:
        return TaskState.TASK_STATE_CANCELED, "The buyer cancelled this tender."
    if tender.status == TenderStatus.DRAFT:
        return TaskState.TASK_STATE_SUBMITTED, "Bidding has not opened yet."
    return TaskState.TASK_STATE_REJECTED, "Bidding has closed without an award."


def feedback_of(page: outside.BidderPage) -> dict[str, Any]:
    """What the bidder may know, as JSON (numbers finite, no private value)."""
    view = {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v)
        for k, v in asdict(page.view).items()
    }
    return {
        "tender": {
            "id": page.tender.pk,
            "title": page.tender.title,
            "item": page.tender.item,
            "quantity": page.tender.quantity,
            "format": page.format,
            "feedback": page.feedback,
            "price_issue": page.price_issue,
            "issues": page.tender.playbook_version.spec.get("issues", []),
        },
        "open": page.open,
        "round_closes_at": page.closes_at.isoformat() if page.closes_at else None,
        "pending_bid": page.pending,
        "note": page.note,
        "standing": view,
    }


def bidder_task(bidder: TenderBidder) -> Task:
    bidder.refresh_from_db()  # as the last bid or round left it
    bidder.tender.refresh_from_db()
    page = outside.bidder_page(bidder)
    state, text = bidder_state(page)
    stamp = Timestamp()
    stamp.FromDatetime(page.tender.updated_at)
    message = Message(
        message_id=f"bidstatus-{page.tender.pk}-{page.tender.round}-{bidder.pk}",
        context_id=context_id_for(bidder),
        task_id=task_id_for(bidder),
        role=Role.ROLE_AGENT,
        parts=[
            Part(text=text, media_type="text/plain"),
            Part(data=ParseDict(feedback_of(page), Value()), media_type="application/json"),
        ],
    )
    return Task(
        id=task_id_for(bidder),
        context_id=context_id_for(bidder),
        status=TaskStatus(state=state, message=message, timestamp=stamp),
    )


# --------------------------------------------------------------------------
# Methods
# --------------------------------------------------------------------------


def _own_task(task_id: str, bidder: TenderBidder) -> None:
    if task_id != task_id_for(bidder):
        raise TaskNotFoundError(message="Task not found")


def _invalid(message: str, field: str = "message.parts.data") -> InvalidParamsError:
    return InvalidParamsError(
        message=message, data={"errors": [{"field": field, "message": message}]}
    )


def send_message(call: Call, credential: BidderCredential | None = None) -> tuple[dict, str]:
    request: SendMessageRequest = call.params
    bidder: TenderBidder = call.participant
    message = request.message
    if message.task_id:
        _own_task(message.task_id, bidder)
    if message.context_id and message.context_id != context_id_for(bidder):
        raise TaskNotFoundError(message="Task not found (unknown contextId)")
    validate_history_length(request.configuration)
    data, _ = message_parts(message)
    terms = data.get("terms")
    if set(data) != {"terms"} or not isinstance(terms, dict):
        raise _invalid('the data part is a bid: {"terms": {<issue>: <value>, …}}')
    try:
        result = outside.outside_bid_submit(
            bidder=bidder,
            terms=terms,
            message_id=message.message_id,
            via="a2a",
            credential=credential,
        )
    except NotAllowed:
        raise Unauthorised("This credential is not valid.") from None
    except outside.BidRefused as exc:
        why = str(exc).removeprefix("the bid cannot stand: ")
        raise _invalid(f"The bid cannot be taken: {why}") from None
    except outside.BiddingClosed as exc:
        raise UnsupportedOperationError(message=str(exc)) from None
    task = apply_history_length(bidder_task(bidder), request.configuration)
    outcome = f"SendMessage {message.message_id[:40]}: {'replayed' if result.replayed else 'bid'}"
    return MessageToDict(SendMessageResponse(task=task)), outcome


def get_task(call: Call) -> tuple[dict, str]:
    request: GetTaskRequest = call.params
    _own_task(request.id, call.participant)
    validate_history_length(request)
    return MessageToDict(bidder_task(call.participant)), "GetTask"


def list_tasks(call: Call) -> tuple[dict, str]:
    request: ListTasksRequest = call.params
    page_size = request.page_size if request.HasField("page_size") else 50
    validate_page_size(page_size)
    if request.page_token:
        raise InvalidParamsError(message="pageToken is not one this server issued.")
    task = bidder_task(call.participant)
    matches = (not request.context_id or request.context_id == task.context_id) and (
        not request.status or request.status == task.status.state
    )
    response = ListTasksResponse(
        tasks=[task] if matches else [],
        next_page_token="",
        page_size=page_size,
        total_size=1 if matches else 0,
    )
    return MessageToDict(response), "ListTasks"


def cancel_task(call: Call) -> tuple[dict, str]:
    _own_task(call.params.id, call.participant)
    raise TaskNotCancelableError(
        message="A bid is binding until the tender closes; a tender task cannot be canceled."
    )


HANDLERS: dict[str, Callable[[Call], tuple[dict, str]]] = dict.fromkeys(
    JsonRpcDispatcher.METHOD_TO_MODEL, not_offered
)
HANDLERS.update(
    {
        "SendMessage": send_message,
        "GetTask": get_task,
        "ListTasks": list_tasks,
        "CancelTask": cancel_task,
    }
)
