"""An in-memory network of nodes for tests: requests go straight to each node's ASGI app.

Links can be cut per (sender, receiver) pair to simulate partitions.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from molink.core.httpsig import sign_request
from molink.core.keys import PartyKeys
from molink.errors import PeerUnreachable
from molink.storage.peers import Peer
from molink.transport.base import Response

__all__ = ["MemoryNetwork", "MemoryTransport"]


class MemoryNetwork:
    def __init__(self) -> None:
        self.apps: dict[str, Any] = {}
        self.cut: set[tuple[str, str]] = set()
        self.requests: list[tuple[str, str, str]] = []

    def attach(self, party: str, app: Any) -> None:
        self.apps[party] = app

    def partition(self, a: str, b: str) -> None:
        self.cut |= {(a, b), (b, a)}

    def heal(self, a: str, b: str) -> None:
        self.cut -= {(a, b), (b, a)}

    def transport(self, keys: PartyKeys, now: Callable[[], datetime]) -> MemoryTransport:
        return MemoryTransport(self, keys, now)


class MemoryTransport:
    def __init__(
        self, network: MemoryNetwork, keys: PartyKeys, now: Callable[[], datetime]
    ) -> None:
        self._net = network
        self._keys = keys
        self._now = now

    async def request(
        self, peer: Peer, method: str, path: str, body: bytes = b"", *, timeout: float | None = None
    ) -> Response:
        app = self._net.apps.get(peer.party)
        if app is None or (self._keys.party, peer.party) in self._net.cut:
            raise PeerUnreachable(f"{peer.party} unreachable (memory network)")
        self._net.requests.append((self._keys.party, peer.party, path))
        headers = sign_request(
            self._keys.sig_private,
            keyid=self._keys.public.sig_kid,
            method=method,
            path=path,
            body=body,
            now=self._now(),
        )
        headers["Content-Type"] = "application/json"
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://memory") as client:
            answer = await client.request(method, path, content=body, headers=headers)
        return Response(
            status=answer.status_code,
            body=answer.content,
            headers=dict(answer.headers),
            route=f"memory:{peer.party}",
        )

    async def aclose(self) -> None:
        return None
