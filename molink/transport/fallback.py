"""Requests signed with a retired key while a peer has not yet learned the new one.

After ``molink keys rotate`` a node signs with its new key, but a peer that has not
yet received the ``key.rotate`` announcement refuses that key (HTTP 401,
``unknown-peer``) before reading the body, and would never receive the very
announcement that teaches it the key. So a refused request is signed again with
the retired keys, newest first: peers keep every key a party has held, and accept it.
Once the peer has learned the new key, the first attempt succeeds.
"""

from __future__ import annotations

from collections.abc import Sequence

from molink.core.canonical import parse_json
from molink.errors import MalformedData
from molink.storage.peers import Peer
from molink.transport.base import PeerTransport, Response

__all__ = ["KeyFallbackTransport"]

_UNKNOWN_KEY = "unknown-peer"


class KeyFallbackTransport:
    """A ``PeerTransport`` over one inner transport per key: current first, then retired."""

    def __init__(self, transports: Sequence[PeerTransport]) -> None:
        if not transports:
            raise ValueError("at least one transport")  # programming error
        self._transports = tuple(transports)

    async def request(
        self, peer: Peer, method: str, path: str, body: bytes = b"", *, timeout: float | None = None
    ) -> Response:
        answer = await self._transports[0].request(peer, method, path, body, timeout=timeout)
        for older in self._transports[1:]:
            if not _refuses_the_key(answer):
                break
            answer = await older.request(peer, method, path, body, timeout=timeout)
        return answer

    async def aclose(self) -> None:
        for transport in self._transports:
            await transport.aclose()


def _refuses_the_key(answer: Response) -> bool:
    if answer.status != 401:
        return False
    try:
        problem = parse_json(answer.body)
    except MalformedData:
        return False
    kind = problem.get("type", "") if isinstance(problem, dict) else ""
    return isinstance(kind, str) and kind.endswith("/" + _UNKNOWN_KEY)
