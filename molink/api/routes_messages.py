"""Operator API: messages (DESIGN.md "Contracts")."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from molink.api.audit import record_in_action
from molink.api.deps import RuntimeDep, require
from molink.core.precedence import Precedence
from molink.errors import InvalidInput
from molink.services.queries import iso
from molink.services.runtime import NodeRuntime
from molink.storage.operators import Principal

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/messages", tags=["messages"])


class SendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    to: list[Annotated[str, Field(min_length=2, max_length=16)]] = Field(
        min_length=1, max_length=16
    )
    precedence: str | None = Field(
        default=None, description="default ROUTINE, or the coded message's own precedence"
    )
    subject: str = Field(default="", max_length=256)
    body: str = Field(default="", max_length=32768)
    lang: str = Field(default="en", min_length=2, max_length=16)
    channel: str | None = Field(default=None, min_length=1, max_length=64)
    code: str | None = Field(default=None, min_length=1, max_length=32)
    params: dict[str, str] | None = None


class SendResponse(BaseModel):
    id: str
    status: str
    channel: str
    seq: int
    created: str
    jws_sha256: str
    log_index: int


@router.post("", status_code=201, response_model=SendResponse)
def send_message(
    req: SendRequest,
    request: Request,
    runtime: RuntimeDep,
    who: Annotated[Principal, require("message.send")],
) -> JSONResponse:
    """Sign, seal and queue a message. 201 means it is durably stored and logged.

    With ``code`` (and ``params``), a pre-agreed catalogue message is sent; the channel
    is required and every member must have agreed to the catalogue version.
    """
    precedence = Precedence.parse(req.precedence) if req.precedence else None
    if req.code is not None:
        if req.channel is None:
            raise InvalidInput("channel: a coded message needs the channel it is agreed on")
        submitted = runtime.catalogue.send_coded(
            to=req.to,
            channel=req.channel,
            code=req.code,
            params=req.params or {},
            lang=req.lang,
            precedence=precedence,
            operator=who.pseudonym,
        )
    else:
        submitted = runtime.messaging.send(
            to=req.to,
            precedence=precedence or Precedence.ROUTINE,
            subject=req.subject,
            body=req.body,
            lang=req.lang,
            channel=req.channel,
            operator=who.pseudonym,
            also=record_in_action(request, request.app.state.audit, status=201),
        )
    # A ready response: FastAPI would otherwise validate the dict against SendResponse
    # in another worker-thread hop, on the hottest path of the node.
    return JSONResponse(
        status_code=201,
        content={
            "id": submitted.id,
            "status": "queued",
            "channel": submitted.channel,
            "seq": submitted.seq,
            "created": iso(submitted.created),
            "jws_sha256": submitted.jws_sha256,
            "log_index": submitted.log_index,
        },
    )


def full_view(runtime: NodeRuntime, view: dict[str, Any]) -> dict[str, Any]:
    """A message view with its renderings, translations and overdue state."""
    view["rendered"] = runtime.catalogue.render(view.get("code"), view.get("params"))
    view["translations"] = runtime.translations.of(view["id"])
    view.update(runtime.queries.overdue(view, runtime.ctx.clock.now()))
    return view


@router.get("")
def list_messages(
    runtime: RuntimeDep,
    _: Annotated[Principal, require("message.read")],
    box: Annotated[str, Query(pattern="^(inbox|outbox)$")] = "inbox",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    order: Annotated[str, Query(pattern="^(time|precedence)$")] = "time",
) -> dict[str, Any]:
    """Newest first, or (``order=precedence``) unacknowledged by precedence then deadline."""
    page = runtime.queries.listing(box, limit, cursor, order=order)
    page["items"] = [full_view(runtime, v) for v in page["items"]]
    return page


@router.get("/{message_id}")
def get_message(
    message_id: str, runtime: RuntimeDep, _: Annotated[Principal, require("message.read")]
) -> dict[str, Any]:
    return full_view(runtime, runtime.queries.get(message_id))


@router.get("/{message_id}/jws", response_class=PlainTextResponse)
def get_jws(
    message_id: str, runtime: RuntimeDep, _: Annotated[Principal, require("message.read")]
) -> PlainTextResponse:
    """The signed message as a compact JWS, exactly as the sender signed it."""
    return PlainTextResponse(runtime.queries.jws(message_id), media_type="application/jose")


@router.get("/{message_id}/receipt", response_class=PlainTextResponse)
def get_receipt(
    message_id: str,
    runtime: RuntimeDep,
    _: Annotated[Principal, require("message.read")],
    party: Annotated[str | None, Query(max_length=16)] = None,
) -> PlainTextResponse:
    """The delivery receipt: a compact JWS signed by the recipient party."""
    return PlainTextResponse(
        runtime.queries.receipt(message_id, party), media_type="application/jose"
    )


@router.post("/{message_id}/ack")
def acknowledge(
    message_id: str, runtime: RuntimeDep, who: Annotated[Principal, require("message.ack")]
) -> dict[str, Any]:
    """Acknowledge a received message as the authenticated operator."""
    done = runtime.messaging.acknowledge(message_id, operator=who.pseudonym, terminal=who.terminal)
    view = full_view(runtime, runtime.queries.get(message_id))
    return {**view, "ack_id": done.ack_id}


class TranslationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    lang: str = Field(min_length=2, max_length=16)
    text: str = Field(min_length=1, max_length=32768)


@router.get("/{message_id}/translations")
def translations(
    message_id: str, runtime: RuntimeDep, _: Annotated[Principal, require("message.read")]
) -> dict[str, Any]:
    return {"items": runtime.translations.of(message_id)}


@router.post("/{message_id}/translations", status_code=201)
def add_translation(
    message_id: str,
    req: TranslationRequest,
    runtime: RuntimeDep,
    who: Annotated[Principal, require("translation.add")],
) -> dict[str, Any]:
    """Attach an unofficial translation, signed by the party; the original stays authoritative."""
    return runtime.translations.attach(
        message_id, lang=req.lang, text=req.text, translator=who.pseudonym
    )


class DeferRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    reason: str = Field(min_length=3, max_length=500)
    minutes: int = Field(ge=1, le=60)


@router.post("/{message_id}/defer", status_code=201)
def defer(
    message_id: str,
    req: DeferRequest,
    runtime: RuntimeDep,
    who: Annotated[Principal, require("message.ack")],
) -> dict[str, Any]:
    """Defer a FLASH alarm with a reason (logged); the message stays unacknowledged."""
    return runtime.queries.defer(
        message_id,
        reason=req.reason,
        minutes=req.minutes,
        operator=who.pseudonym,
        alerts=runtime.alerts,
    )
