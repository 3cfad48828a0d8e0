"""Operator API: the confidence-building ledger (e.g. a prisoner exchange)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from molink.api.deps import RuntimeDep, require
from molink.storage.operators import Principal

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/ledger", tags=["ledger"])
Reader = Annotated[Principal, require("incident.read")]
Party = Annotated[Principal, require("ledger.sign")]
PartyOrWitness = Annotated[Principal, require("ledger.sign", "ledger.witness")]


class Proposal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str = Field(min_length=1, max_length=64)
    terms: dict[str, Any] = Field(
        description="title, kind, parties, mediators, terms: {receiving party: {category: count}}"
    )


class ListSubmission(BaseModel):
    model_config = ConfigDict(extra="forbid")

    records: list[dict[str, Any]] = Field(max_length=10_000)


class Handover(BaseModel):
    model_config = ConfigDict(extra="forbid")

    handed_over: dict[str, int]
    received: dict[str, int]


@router.get("")
def list_agreements(runtime: RuntimeDep, _: Reader) -> dict[str, Any]:
    return {"items": runtime.ledger.listing()}


@router.post("", status_code=201)
def propose(req: Proposal, runtime: RuntimeDep, who: PartyOrWitness) -> dict[str, Any]:
    return runtime.ledger.propose(channel=req.channel, terms=req.terms, operator=who.pseudonym)


@router.get("/{agreement_id}")
def get_agreement(agreement_id: str, runtime: RuntimeDep, _: Reader) -> dict[str, Any]:
    """Terms, who agreed, lists, handovers, the reconciliation and the completion record."""
    return runtime.ledger.view(agreement_id)


@router.post("/{agreement_id}/agree")
def agree(agreement_id: str, runtime: RuntimeDep, who: PartyOrWitness) -> dict[str, Any]:
    return runtime.ledger.agree(agreement_id, operator=who.pseudonym)


@router.post("/{agreement_id}/lists")
def submit_list(
    agreement_id: str, req: ListSubmission, runtime: RuntimeDep, who: Party
) -> dict[str, Any]:
    """This party's list: pseudonymous records; a name, if given, is sealed to the receiver."""
    return runtime.ledger.submit_list(agreement_id, req.records, operator=who.pseudonym)


@router.post("/{agreement_id}/handover")
def handover(agreement_id: str, req: Handover, runtime: RuntimeDep, who: Party) -> dict[str, Any]:
    return runtime.ledger.handover(
        agreement_id, handed_over=req.handed_over, received=req.received, operator=who.pseudonym
    )


@router.post("/{agreement_id}/sign")
def sign(agreement_id: str, runtime: RuntimeDep, who: PartyOrWitness) -> dict[str, Any]:
    """Sign (a party) or witness (a mediator) the completion record."""
    return runtime.ledger.sign(agreement_id, operator=who.pseudonym)


@router.get("/{agreement_id}/export")
def export(agreement_id: str, runtime: RuntimeDep, _: Reader) -> dict[str, Any]:
    """The whole agreement with every signed object as compact JWS."""
    return runtime.ledger.export(agreement_id)
