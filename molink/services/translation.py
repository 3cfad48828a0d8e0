"""Translations attached to messages. The original text and language stay authoritative.

A translator's translation is a signed ``translation`` object by the party, labelled
unofficial, carrying the translator's pseudonymous id; it is stored, logged and sent to
the message's other parties so that both sides see the same text side by side.
Machine translation sits behind ``MachineTranslator``; it is off by default and no
implementation shipped here calls a network service.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import Connection, insert, select

from molink.core.envelope import Opened
from molink.core.precedence import Precedence
from molink.errors import InvalidInput, NotFound, StateConflict
from molink.services.context import NodeContext
from molink.services.messaging import MessagingService
from molink.services.queries import iso
from molink.storage.schema import translations

__all__ = ["MachineTranslator", "TranslationService"]

MAX_TEXT = 32_768


class MachineTranslator(Protocol):
    """An offline machine-translation engine (e.g. a local model). Returns None if unable."""

    def translate(self, text: str, source: str, target: str) -> str | None: ...


class TranslationService:
    def __init__(
        self,
        ctx: NodeContext,
        messaging: MessagingService,
        machine: MachineTranslator | None = None,
    ) -> None:
        self._ctx = ctx
        self._messaging = messaging
        self._machine = machine

    @property
    def machine_enabled(self) -> bool:
        return self._machine is not None

    def attach(
        self, message_id: str, *, lang: str, text: str, translator: str, machine: bool = False
    ) -> dict[str, Any]:
        """Sign and share a translation of a message this node holds."""
        if not text.strip() or len(text) > MAX_TEXT:
            raise InvalidInput(f"translation text must be 1-{MAX_TEXT} characters")
        ctx = self._ctx
        with ctx.db.write() as conn:
            row = ctx.messages.find(conn, message_id)
            if row is None or row.type != "message":
                raise NotFound(f"no message {message_id}")
            if lang == row.lang:
                raise InvalidInput(f"the original is already in {lang}")
            parties = sorted(({row.sender, *row.recipients}) - {ctx.party})
            fields = {
                "ref": message_id,
                "ref_sha256": row.jws_sha256,
                "lang": lang,
                "text": text,
                "translator": translator,
                "unofficial": True,
                "machine": machine,
            }
            submitted = self._messaging.send_object(
                "translation",
                to=parties,
                precedence=_prec(row.precedence),
                channel=row.channel,
                fields=fields,
                summary=f"translation ({lang})",
                operator=translator,
                conn=conn,
            )
            self._store(conn, submitted.id, ctx.party, fields, None)
        ctx.wake_outbox()
        ctx.events.publish("translation.added", id=message_id, lang=lang)
        return {"id": submitted.id, "ref": message_id, "lang": lang}

    def machine_translate(self, message_id: str, lang: str, *, operator: str) -> dict[str, Any]:
        """Ask the configured offline engine; refused when machine translation is off."""
        if self._machine is None:
            raise StateConflict("machine translation is off on this node")
        with self._ctx.db.read() as conn:
            row = self._ctx.messages.get(conn, message_id)
        text = self._machine.translate(row.body or "", row.lang or "en", lang)
        if not text:
            raise StateConflict(f"the engine cannot translate {row.lang} to {lang}")
        return self.attach(message_id, lang=lang, text=text, translator=operator, machine=True)

    def on_translation(self, conn: Connection, opened: Opened, _now_us: int) -> None:
        payload = opened.signed.payload
        original = self._ctx.messages.find(conn, str(payload.get("ref")))
        if original is None or original.jws_sha256 != payload.get("ref_sha256"):
            return  # translates something we do not hold: kept as evidence only
        self._store(conn, opened.signed.id, opened.signed.sender, payload, opened.signed.jws.text)

    def _store(self, conn: Connection, tid: str, party: str, fields: Any, jws: str | None) -> None:
        ctx = self._ctx
        conn.execute(
            insert(translations).values(
                id=tid,
                ref=fields["ref"],
                party=party,
                lang=str(fields["lang"])[:16],
                text=str(fields["text"]),
                translator=str(fields["translator"])[:64],
                machine=bool(fields.get("machine")),
                jws=jws,
                created=ctx.now_us(),
            )
        )

    def of(self, message_id: str) -> list[dict[str, Any]]:
        with self._ctx.db.read() as conn:
            rows = conn.execute(
                select(translations)
                .where(translations.c.ref == message_id)
                .order_by(translations.c.created)
            ).all()
        return [
            {
                "id": r.id,
                "party": r.party,
                "lang": r.lang,
                "text": r.text,
                "translator": r.translator,
                "machine": r.machine,
                "unofficial": True,
                "created": iso(r.created),
            }
            for r in rows
        ]


def _prec(value: str) -> Precedence:
    return Precedence(value)
