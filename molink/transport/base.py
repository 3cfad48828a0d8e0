"""The one interface between a node and its peers: ``PeerTransport``.

A transport delivers one signed HTTP request to a peer and returns whatever the
peer answered. It raises ``PeerUnreachable`` only when no answer came at all
(connection refused, reset, timeout): an answer of any status proves the peer
is alive, which resets delivery backoff.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from molink.core.canonical import parse_json
from molink.errors import MalformedData, MolinkError
from molink.storage.peers import Peer

__all__ = ["PeerTransport", "Response"]


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    route: str = ""

    def json(self) -> Any:
        return parse_json(self.body)

    def problem(self) -> MolinkError:
        """The peer's RFC 9457 problem as an error (for logging and status display)."""
        try:
            detail = self.json().get("detail", "")
        except (MalformedData, AttributeError):
            detail = self.body[:200].decode("utf-8", "replace")
        return MolinkError(f"peer answered HTTP {self.status}: {detail}")


class PeerTransport(Protocol):
    async def request(
        self, peer: Peer, method: str, path: str, body: bytes = b"", *, timeout: float | None = None
    ) -> Response:
        """Send a signed request to ``peer``, trying its addresses in order."""
        ...

    async def aclose(self) -> None: ...
