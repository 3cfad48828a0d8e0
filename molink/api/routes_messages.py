"""Operator API: messages (DESIGN.md "Contracts")."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from molink.api.deps import OperatorDep, RuntimeDep
from molink.core.precedence import Precedence
from molink.services.queries import iso

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/messages", tags=["messages"])


class SendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    to: list[Annotated[str, Field(min_length=2, max_length=16)]] = Field(
        min_length=1, max_length=16
    )
    precedence: str = "ROUTINE"
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
def send_message(req: SendRequest, runtime: RuntimeDep, who: OperatorDep) -> dict[str, Any]:
    """Sign, seal and queue a message. 201 means it is durably stored and logged."""
    submitted = runtime.messaging.send(
        to=req.to,
        precedence=Precedence.parse(req.precedence),
        subject=req.subject,
        body=req.body,
        lang=req.lang,
        channel=req.channel,
        code=req.code,
        params=req.params,
        operator=who.pseudonym,
    )
    return {
        "id": submitted.id,
        "status": "queued",
        "channel": submitted.channel,
        "seq": submitted.seq,
        "created": iso(submitted.created),
        "jws_sha256": submitted.jws_sha256,
        "log_index": submitted.log_index,
    }


@router.get("")
def list_messages(
    runtime: RuntimeDep,
    _: OperatorDep,
    box: Annotated[str, Query(pattern="^(inbox|outbox)$")] = "inbox",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    return runtime.queries.listing(box, limit, cursor)


@router.get("/{message_id}")
def get_message(message_id: str, runtime: RuntimeDep, _: OperatorDep) -> dict[str, Any]:
    return runtime.queries.get(message_id)


@router.get("/{message_id}/jws", response_class=PlainTextResponse)
def get_jws(message_id: str, runtime: RuntimeDep, _: OperatorDep) -> PlainTextResponse:
    """The signed message as a compact JWS, exactly as the sender signed it."""
    return PlainTextResponse(runtime.queries.jws(message_id), media_type="application/jose")


@router.get("/{message_id}/receipt", response_class=PlainTextResponse)
def get_receipt(
    message_id: str,
    runtime: RuntimeDep,
    _: OperatorDep,
    party: Annotated[str | None, Query(max_length=16)] = None,
) -> PlainTextResponse:
    """The delivery receipt: a compact JWS signed by the recipient party."""
    return PlainTextResponse(
        runtime.queries.receipt(message_id, party), media_type="application/jose"
    )


@router.post("/{message_id}/ack")
def acknowledge(message_id: str, runtime: RuntimeDep, who: OperatorDep) -> dict[str, Any]:
    """Acknowledge a received message as the authenticated operator."""
    done = runtime.messaging.acknowledge(message_id, operator=who.pseudonym, terminal=who.terminal)
    view = runtime.queries.get(message_id)
    return {**view, "ack_id": done.ack_id}
