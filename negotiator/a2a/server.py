"""The A2A JSON-RPC binding (protocol 1.0) for one authenticated seat.

The a2a-sdk gives the shapes: the JSON-RPC envelope check (json-rpc's
JSONRPC20Request, as the SDK's dispatcher uses it), the method table and the
protobuf request types params are parsed into, the response types, and the
error objects (codes, google.rpc.ErrorInfo / BadRequest details). The SDK's own
server is an async Starlette app around an agent executor and a task store; our
move is one synchronous database transaction in which our seat answers too, so
this module is the SDK's dispatcher flow, synchronous, in a Django view.

Each method calls one seat service; every failure is a JSON-RPC error with a
precise message and changes nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from a2a.server.jsonrpc_models import JSONParseError
from a2a.server.request_handlers.response_helpers import build_error_response
from a2a.server.routes.common import serialize_list_tasks_response
from a2a.server.routes.jsonrpc_dispatcher import JsonRpcDispatcher
from a2a.types import (
    CancelTaskRequest,
    GetTaskRequest,
    ListTasksRequest,
    ListTasksResponse,
    SendMessageRequest,
    SendMessageResponse,
    Task,
    TaskState,
)
from a2a.utils.constants import PROTOCOL_VERSION_1_0, VERSION_HEADER
from a2a.utils.errors import (
    A2AError,
    InternalError,
    InvalidParamsError,
    InvalidRequestError,
    MethodNotFoundError,
    PushNotificationNotSupportedError,
    TaskNotCancelableError,
    TaskNotFoundError,
    UnsupportedOperationError,
    VersionNotSupportedError,
)
from a2a.utils.task import apply_history_length, validate_history_length, validate_page_size
from google.protobuf.json_format import MessageToDict, ParseDict, ParseError
from jsonrpc.jsonrpc2 import JSONRPC20Request, JSONRPC20Response
from packaging.version import InvalidVersion, Version

from negotiator.a2a import seat_task as tasks
from negotiator.a2a.errors import NotYourTurn, OfferBlocked, SeatError, Unauthenticated
from negotiator.a2a.messages import move_parts
from negotiator.a2a.offers import move_from_data
from negotiator.models import Negotiation, Participant
from negotiator.services.errors import NotAllowed
from negotiator.services.seats import (
    CredentialUse,
    MoveBlocked,
    MoveInput,
    MoveInvalid,
    OutOfTurn,
    seat_move_submit,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Call:
    request_id: str | int | None
    method: str
    params: Any  # the SDK's protobuf request for the method
    participant: Participant
    # the credential's use, recorded with a move the call plays (SendMessage)
    use: CredentialUse | None = None


@dataclass(frozen=True)
class Answer:
    body: dict[str, Any]
    outcome: str  # what the credential was used for, for the audit trail


def rpc_handle(
    body: bytes,
    headers: Mapping[str, str],
    subject: Participant | Any,
    *,
    handlers: Mapping[str, Callable[[Call], tuple[dict, str]]] | None = None,
    use: CredentialUse | None = None,
) -> Answer:
    """One JSON-RPC request from an authenticated caller, answered. ``subject``:
    what the credential opens (a seat; a tender bidder with the tender door's
    ``handlers``). ``use``: the seat credential's use, which a played move
    records in its own transaction (``use.recorded`` then says so)."""
    request_id, label = None, "request"
    try:
        call = _call_from(body, headers, subject, use)
        request_id, label = call.request_id, _label(call)
        result, outcome = (handlers or HANDLERS)[call.method](call)
        return Answer(JSONRPC20Response(result=result, _id=request_id).data, outcome)
    except _Refused as refused:
        return Answer(_error(refused.request_id, refused.error), refused.outcome)
    except A2AError as error:
        return Answer(_error(request_id, error), f"{label}: refused ({type(error).__name__})")
    except Exception:
        # Never a 500 and never the exception's text (it may quote private rows).
        log.exception("A2A request failed")
        return Answer(_error(request_id, InternalError()), f"{label}: failed (internal error)")


def _label(call: Call) -> str:
    """The method, and for a message its id: what the audit trail names."""
    if call.method == "SendMessage":
        return f"SendMessage {call.params.message.message_id[:40]}"
    return call.method


class _Refused(Exception):
    def __init__(self, request_id, error, outcome: str) -> None:
        self.request_id, self.error, self.outcome = request_id, error, outcome


def _error(request_id, error) -> dict[str, Any]:
    if isinstance(error, SeatError):
        return build_error_response(request_id, error.as_jsonrpc())
    return build_error_response(request_id, error)


def _call_from(
    body: bytes,
    headers: Mapping[str, str],
    participant: Participant,
    use: CredentialUse | None = None,
) -> Call:
    """Parse and check the envelope, the protocol version and the params, in the
    order the SDK's dispatcher does; each failure names what is wrong."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        error = JSONParseError(message=f"Invalid JSON payload: {exc}")
        raise _Refused(None, error, "bad JSON") from None
    request_id = _request_id(data)
    if isinstance(data, list):
        raise _Refused(
            None, InvalidRequestError(message="Batch requests are not supported"), "batch"
        )
    try:
        envelope = JSONRPC20Request.from_data(data)
    except Exception as exc:  # json-rpc raises several types for a bad envelope
        error = InvalidRequestError(message=f"Not a JSON-RPC 2.0 request: {exc}")
        raise _Refused(request_id, error, "bad envelope") from None
    if data.get("jsonrpc") != "2.0" or isinstance(envelope._id, bool):  # noqa: SLF001
        error = InvalidRequestError(message="'jsonrpc' must be '2.0' and 'id' a string or integer")
        raise _Refused(request_id, error, "bad envelope")
    method = envelope.method
    model = JsonRpcDispatcher.METHOD_TO_MODEL.get(method)
    if model is None:
        error = MethodNotFoundError(
            message=f"Method {str(method)[:60]!r} does not exist; see the agent card."
        )
        raise _Refused(request_id, error, "unknown method")
    _version_check(headers, request_id, method)
    params = data.get("params", {})
    if not isinstance(params, dict):
        error = InvalidParamsError(message="'params' must be an object")
        raise _Refused(request_id, error, f"{method}: bad params")
    try:
        parsed = ParseDict(params, model(), ignore_unknown_fields=True)
    except (ParseError, ValueError, TypeError) as exc:
        error = InvalidParamsError(
            message=f"Invalid params for {method}: {str(exc)[:300]}",
            data={"errors": [{"field": "params", "message": str(exc)[:300]}]},
        )
        raise _Refused(request_id, error, f"{method}: bad params") from None
    return Call(request_id, method, parsed, participant, use)


def _request_id(data: Any) -> str | int | None:
    if not isinstance(data, dict):
        return None
    value = data.get("id")
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return value


def _version_check(headers: Mapping[str, str], request_id, method: str) -> None:
    """Protocol 1.0 only; an absent A2A-Version means 0.3 (the specification)."""
    asked = (headers.get(VERSION_HEADER) or "").strip() or "0.3"
    try:
        ok = Version(asked).major == Version(PROTOCOL_VERSION_1_0).major
    except InvalidVersion:
        ok = False
    if not ok:
        error = VersionNotSupportedError(
            message=f"A2A version {asked[:20]!r} is not supported; "
            f"send the header '{VERSION_HEADER}: {PROTOCOL_VERSION_1_0}'."
        )
        raise _Refused(request_id, error, f"{method}: version {asked[:20]}")


# --------------------------------------------------------------------------
# Methods
# --------------------------------------------------------------------------


def _own_task(task_id: str, participant: Participant) -> None:
    """Another seat's, another negotiation's or a made-up id: all "not found"."""
    if task_id != tasks.task_id_for(participant):
        raise TaskNotFoundError(message="Task not found")


def send_message(call: Call) -> tuple[dict, str]:
    """The seat's move: checked, played with our answer in the same transaction,
    and answered with the task as the move left it (a replay: as it left it then)."""
    request: SendMessageRequest = call.params
    participant = call.participant
    message = request.message
    if message.task_id:
        _own_task(message.task_id, participant)
    if message.context_id and message.context_id != tasks.context_id_for(participant):
        raise TaskNotFoundError(message="Task not found (unknown contextId)")
    if request.configuration.HasField("task_push_notification_config"):
        raise PushNotificationNotSupportedError(message="Push notifications are not offered.")
    validate_history_length(request.configuration)
    move = move_from_data(*move_parts(message))
    if call.use is not None:
        call.use.what = f"{_label(call)}: played"
    try:
        result = seat_move_submit(
            participant=participant, move=move, message_id=message.message_id, use=call.use
        )
    except MoveInvalid as exc:
        raise _invalid_move(exc) from None
    except MoveBlocked:
        raise OfferBlocked() from None
    except OutOfTurn:
        raise _out_of_turn(participant) from None
    except NotAllowed:  # its credential was revoked or expired while the move waited
        raise Unauthenticated() from None
    task = tasks.seat_task(
        participant, result=result, history=request.configuration.HasField("history_length")
    )
    task = apply_history_length(task, request.configuration)
    outcome = f"{_label(call)}: {'replayed' if result.replayed else 'played'}"
    return MessageToDict(SendMessageResponse(task=task)), outcome


def _invalid_move(exc: MoveInvalid) -> InvalidParamsError:
    field = "message.parts.data"
    return InvalidParamsError(
        message="The offer cannot be played: " + "; ".join(exc.problems),
        data={"errors": [{"field": field, "message": p} for p in exc.problems]},
    )


def _out_of_turn(participant: Participant) -> A2AError:
    state, text = tasks.seat_state(participant)
    if state in tasks.TERMINAL:
        return UnsupportedOperationError(
            message=f"The negotiation is over ({text}); it accepts no more messages."
        )
    return NotYourTurn(
        f"It is not your turn. {text} Fetch the task with GetTask and answer when "
        "its state is input-required."
    )


def get_task(call: Call) -> tuple[dict, str]:
    """The seat's task with its public history (``historyLength`` keeps the newest)."""
    request: GetTaskRequest = call.params
    _own_task(request.id, call.participant)
    validate_history_length(request)
    task = apply_history_length(tasks.seat_task(call.participant, history=True), request)
    return MessageToDict(task), "GetTask"


def list_tasks(call: Call) -> tuple[dict, str]:
    """The seat's one task, if it matches the filters; one page, always the last."""
    request: ListTasksRequest = call.params
    page_size = request.page_size if request.HasField("page_size") else 50
    validate_page_size(page_size)
    if request.page_token:
        raise InvalidParamsError(message="pageToken is not one this server issued.")
    validate_history_length(request)
    with_history = request.HasField("history_length") and request.history_length > 0
    task = apply_history_length(tasks.seat_task(call.participant, history=with_history), request)
    matches = _matches(task, request, call.participant)
    response = ListTasksResponse(
        tasks=[task] if matches else [],
        next_page_token="",
        page_size=page_size,
        total_size=1 if matches else 0,
    )
    return serialize_list_tasks_response(response, request.include_artifacts), "ListTasks"


def _matches(task: Task, request: ListTasksRequest, participant: Participant) -> bool:
    if request.context_id and request.context_id != tasks.context_id_for(participant):
        return False
    if request.status and request.status != task.status.state:
        return False
    if not request.HasField("status_timestamp_after"):
        return True
    return task.status.timestamp.ToDatetime() > request.status_timestamp_after.ToDatetime()


def cancel_task(call: Call) -> tuple[dict, str]:
    """Cancelling is the seat withdrawing, which it may do at its turn."""
    request: CancelTaskRequest = call.params
    participant = call.participant
    _own_task(request.id, participant)
    state, text = tasks.seat_state(participant)
    if state == TaskState.TASK_STATE_CANCELED:
        return MessageToDict(tasks.seat_task(participant)), "CancelTask: already"
    if state in tasks.TERMINAL:
        raise TaskNotCancelableError(message=f"The task cannot be canceled: {text}")
    if state != TaskState.TASK_STATE_INPUT_REQUIRED:
        raise TaskNotCancelableError(
            message=f"You can withdraw at your turn (state input-required); now: {text}"
        )
    negotiation_round = Negotiation.objects.values_list("current_round", flat=True).get(
        pk=participant.negotiation_id
    )
    try:
        seat_move_submit(
            participant=participant,
            move=MoveInput(performative="withdraw"),
            message_id=f"cancel-{request.id}-r{negotiation_round}",
        )
    except OutOfTurn:
        raise _out_of_turn(participant) from None
    return MessageToDict(tasks.seat_task(participant)), "CancelTask: withdrew"


_STREAMING = (
    "Streaming is not offered (capabilities.streaming is false): use SendMessage, "
    "whose reply is our answer, and GetTask."
)
_NOT_OFFERED: dict[str, Callable[[], A2AError]] = {
    "SendStreamingMessage": lambda: UnsupportedOperationError(message=_STREAMING),
    "SubscribeToTask": lambda: UnsupportedOperationError(message=_STREAMING),
    "GetExtendedAgentCard": lambda: UnsupportedOperationError(
        message="There is no extended agent card."
    ),
}


def not_offered(call: Call) -> tuple[dict, str]:
    """Methods of the binding we do not offer: streaming, push notifications and
    the extended card, each with the error the specification names."""
    factory = _NOT_OFFERED.get(call.method)
    if factory is None:
        raise PushNotificationNotSupportedError(message="Push notifications are not offered.")
    raise factory()


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
