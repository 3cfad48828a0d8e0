"""Coded messages: agreeing to a catalogue version per channel, sending and rendering.

Agreement is a signed ``catalogue.agree`` object (catalogue id, version, SHA-256) sent
to the channel's other members. A coded message is refused until every member of the
channel has agreed to the catalogue's current version.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from molink.core.catalogue import STARTER, Catalogue
from molink.core.envelope import Opened
from molink.core.precedence import Precedence
from molink.errors import NotFound, StateConflict
from molink.services.channels import get_channel
from molink.services.context import NodeContext
from molink.services.messaging import MessagingService, Submitted
from molink.storage.schema import catalogue_agreements

__all__ = ["CatalogueService"]


class CatalogueService:
    def __init__(
        self, ctx: NodeContext, messaging: MessagingService, catalogue: Catalogue = STARTER
    ) -> None:
        self._ctx = ctx
        self._messaging = messaging
        self.catalogue = catalogue

    def agree(self, channel_id: str, *, operator: str) -> dict[str, Any]:
        """Sign our agreement to the current catalogue version on ``channel_id``."""
        ctx = self._ctx
        cat = self.catalogue
        with ctx.db.write() as conn:
            row = get_channel(conn, channel_id)
            if row is None:
                raise NotFound(f"no channel {channel_id!r}")
            others = sorted(set(row.members) - {ctx.party})
            submitted = self._messaging.send_object(
                "catalogue.agree",
                to=others,
                precedence=Precedence.ROUTINE,
                channel=channel_id,
                fields={"catalogue": cat.id, "version": cat.version, "sha256": cat.sha256},
                summary=f"agrees to catalogue {cat.id} v{cat.version}",
                operator=operator,
                conn=conn,
            )
            self._record(conn, channel_id, ctx.party, cat.version, cat.sha256, submitted.id)
        ctx.wake_outbox()
        return self.status(channel_id)

    def on_agree(self, conn: Connection, opened: Opened, _now_us: int) -> None:
        payload = opened.signed.payload
        version, sha = str(payload.get("version")), str(payload.get("sha256"))
        self._record(
            conn, opened.signed.channel, opened.signed.sender, version, sha, opened.signed.id
        )

    def _record(
        self, conn: Connection, channel: str, party: str, version: str, sha: str, message_id: str
    ) -> None:
        conn.execute(
            delete(catalogue_agreements).where(
                catalogue_agreements.c.channel == channel,
                catalogue_agreements.c.party == party,
                catalogue_agreements.c.version == version,
            )
        )
        conn.execute(
            insert(catalogue_agreements).values(
                channel=channel,
                party=party,
                version=version,
                catalogue_sha256=sha,
                message_id=message_id,
                created=self._ctx.now_us(),
            )
        )
        self._ctx.log.append(
            conn,
            [
                {
                    "type": "catalogue.agreed",
                    "channel": channel,
                    "party": party,
                    "version": version,
                    "sha256": sha,
                    "ref": message_id,
                    "time": self._ctx.now_us() // 1000,
                }
            ],
            self._ctx.now_us(),
        )

    def status(self, channel_id: str) -> dict[str, Any]:
        with self._ctx.db.read() as conn:
            row = get_channel(conn, channel_id)
            if row is None:
                raise NotFound(f"no channel {channel_id!r}")
            agreed = self._agreed(conn, channel_id)
        missing = sorted(set(row.members) - agreed)
        return {
            "channel": channel_id,
            "catalogue": self.catalogue.id,
            "version": self.catalogue.version,
            "sha256": self.catalogue.sha256,
            "agreed": sorted(agreed),
            "missing": missing,
            "in_force": not missing,
        }

    def _agreed(self, conn: Connection, channel_id: str) -> set[str]:
        cat = self.catalogue
        rows = conn.execute(
            select(catalogue_agreements).where(
                catalogue_agreements.c.channel == channel_id,
                catalogue_agreements.c.version == cat.version,
                catalogue_agreements.c.catalogue_sha256 == cat.sha256,
            )
        )
        return {r.party for r in rows}

    def send_coded(
        self,
        *,
        to: list[str],
        channel: str,
        code: str,
        params: Mapping[str, str],
        lang: str,
        precedence: Precedence | None,
        operator: str,
    ) -> Submitted:
        """Send a coded message; its body is rendered in the sender's language too."""
        entry = self.catalogue.get(code)
        body = entry.render(params, lang if lang in entry.texts else "en")
        with self._ctx.db.read() as conn:
            row = get_channel(conn, channel)
            if row is None:
                raise NotFound(f"no channel {channel!r}")
            missing = sorted(set(row.members) - self._agreed(conn, channel))
        if missing:
            raise StateConflict(
                f"catalogue {self.catalogue.id} v{self.catalogue.version} is "
                f"not agreed on {channel} by {', '.join(missing)}"
            )
        return self._messaging.send(
            to=to,
            precedence=precedence or entry.precedence,
            subject=f"[{code}]",
            body=body,
            lang=lang,
            channel=channel,
            code=code,
            params={
                **params,
                "catalogue": self.catalogue.id,
                "catalogue_version": self.catalogue.version,
            },
            operator=operator,
        )

    def render(self, code: str | None, params: Mapping[str, str] | None) -> dict[str, str] | None:
        """A received coded message in every language (None if not coded or unknown)."""
        if not code or params is None:
            return None
        own = {k: v for k, v in params.items() if k not in ("catalogue", "catalogue_version")}
        try:
            return self.catalogue.render_all(code, own)
        except (NotFound, StateConflict, Exception):
            return None
