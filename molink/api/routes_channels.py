"""Operator API: channels (lifecycle, history), the coded-message catalogue."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from molink.api.deps import RuntimeDep, require
from molink.core.dtg import parse_utc
from molink.storage.operators import Principal

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["channels"])
ChannelReader = Annotated[Principal, require("channel.read")]


class ChannelChange(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    action: str = Field(pattern="^(agree|suspend|restore|close)$")
    reason: str = Field(min_length=1, max_length=2000)
    effective: str | None = Field(
        default=None, max_length=40, description="ISO 8601 UTC time the change takes effect"
    )


@router.get("/channels")
def list_channels(runtime: RuntimeDep, _: ChannelReader) -> dict[str, Any]:
    return {"items": runtime.channels.listing()}


@router.get("/channels/{channel_id}")
def get_channel(channel_id: str, runtime: RuntimeDep, _: ChannelReader) -> dict[str, Any]:
    """A channel with its state, pending votes and signed lifecycle history."""
    return runtime.channels.view(channel_id)


@router.post("/channels/{channel_id}/events")
def change_channel(
    channel_id: str,
    change: ChannelChange,
    runtime: RuntimeDep,
    who: Annotated[Principal, require("channel.change")],
) -> dict[str, Any]:
    """Suspend, restore, close (or agree to) a channel by the channel's rule."""
    effective = parse_utc(change.effective) if change.effective else None
    return runtime.channels.change(
        channel_id, change.action, change.reason, operator=who.pseudonym, effective=effective
    )


@router.get("/catalogue")
def catalogue(runtime: RuntimeDep, _: ChannelReader) -> dict[str, Any]:
    """The pre-agreed coded messages with their authoritative en/ru/uk texts."""
    cat = runtime.catalogue.catalogue
    return {**cat.to_json(), "sha256": cat.sha256}


@router.get("/channels/{channel_id}/catalogue")
def catalogue_status(channel_id: str, runtime: RuntimeDep, _: ChannelReader) -> dict[str, Any]:
    return runtime.catalogue.status(channel_id)


@router.post("/channels/{channel_id}/catalogue/agree")
def catalogue_agree(
    channel_id: str, runtime: RuntimeDep, who: Annotated[Principal, require("catalogue.agree")]
) -> dict[str, Any]:
    """Sign this party's agreement to the current catalogue version on the channel."""
    return runtime.catalogue.agree(channel_id, operator=who.pseudonym)
