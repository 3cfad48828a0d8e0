"""Pre-agreed coded messages (the 1976 hotline protocol's idea: a code word plus numbers).

A catalogue is versioned. Every party on a channel signs its agreement to a version
(by the catalogue's SHA-256 over canonical JSON); a coded message may be sent on a
channel only when all its members agreed to that version, and it renders at once in
each reader's language from the authoritative texts.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from molink.core.canonical import canonical_json
from molink.core.precedence import Precedence
from molink.errors import InvalidInput, NotFound

__all__ = ["LANGS", "STARTER", "Catalogue", "CodedMessage"]

LANGS = ("en", "ru", "uk")
_PARAM = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


@dataclass(frozen=True, slots=True)
class CodedMessage:
    code: str
    precedence: Precedence
    params: tuple[str, ...]
    texts: Mapping[str, str]

    def __post_init__(self) -> None:
        for lang in LANGS:
            template = self.texts.get(lang)
            if template is None:
                raise InvalidInput(f"{self.code}: no {lang} text")
            names = {f for _, f, _, _ in string.Formatter().parse(template) if f}
            if names != set(self.params):
                raise InvalidInput(
                    f"{self.code}/{lang}: placeholders {sorted(names)} "
                    f"differ from params {list(self.params)}"
                )

    def render(self, params: Mapping[str, str], lang: str) -> str:
        _check_params(params)
        missing = [p for p in self.params if not params.get(p, "").strip()]
        extra = sorted(set(params) - set(self.params))
        if missing or extra:
            raise InvalidInput(f"{self.code}: missing params {missing}, unknown {extra}")
        template = self.texts.get(lang) or self.texts["en"]
        return template.format(**{k: str(v) for k, v in params.items()})

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "precedence": self.precedence.value,
            "params": list(self.params),
            "texts": dict(self.texts),
        }


@dataclass(frozen=True, slots=True)
class Catalogue:
    id: str
    version: str
    entries: tuple[CodedMessage, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "entries": [e.to_json() for e in self.entries],
        }

    @property
    def sha256(self) -> str:
        """What parties sign their agreement to (canonical JSON, RFC 8785)."""
        return hashlib.sha256(canonical_json(self.to_json())).hexdigest()

    def get(self, code: str) -> CodedMessage:
        for entry in self.entries:
            if entry.code == code:
                return entry
        raise NotFound(f"no coded message {code!r} in catalogue {self.id} v{self.version}")

    def render_all(self, code: str, params: Mapping[str, str]) -> dict[str, str]:
        entry = self.get(code)
        return {lang: entry.render(params, lang) for lang in LANGS}


def _entry(
    code: str, precedence: Precedence, params: tuple[str, ...], en: str, ru: str, uk: str
) -> CodedMessage:
    return CodedMessage(code, precedence, params, {"en": en, "ru": ru, "uk": uk})


STARTER = Catalogue(
    "molink-starter",
    "1",
    (
        _entry(
            "DISTRESS",
            Precedence.FLASH,
            ("area",),
            "Aircraft in distress in area {area}. Request you hold fire.",
            "Воздушное судно терпит бедствие в районе {area}. Просим не открывать огонь.",
            "Повітряне судно зазнає лиха в районі {area}. Просимо не відкривати вогонь.",
        ),
        _entry(
            "TESTLAUNCH",
            Precedence.FLASH,
            ("area", "time"),
            "Unplanned launch from area {area} at {time}: it is a test, not an attack.",
            "Незапланированный пуск из района {area} в {time}: это испытание, а не нападение.",
            "Незапланований пуск з району {area} о {time}: це випробування, а не напад.",
        ),
        _entry(
            "CALLNOW",
            Precedence.IMMEDIATE,
            ("line",),
            "Request an immediate call on the {line} line.",
            "Просим немедленно выйти на связь по линии {line}.",
            "Просимо негайно вийти на зв'язок лінією {line}.",
        ),
        _entry(
            "NUCLEAR",
            Precedence.FLASH,
            ("facility", "nature"),
            "Incident at nuclear facility {facility}: {nature}. Request restraint in the area.",
            "Инцидент на ядерном объекте {facility}: {nature}. Просим проявить сдержанность "
            "в этом районе.",
            "Інцидент на ядерному об'єкті {facility}: {nature}. Просимо виявляти стриманість "
            "у цьому районі.",
        ),
        _entry(
            "AIRSPACE",
            Precedence.FLASH,
            ("area", "time"),
            "Aircraft of your party in our airspace near {area} since {time}. "
            "Request immediate withdrawal.",
            "Воздушные суда вашей стороны в нашем воздушном пространстве у {area} с {time}. "
            "Просим немедленно покинуть его.",
            "Повітряні судна вашої сторони в нашому повітряному просторі біля {area} з {time}. "
            "Просимо негайно залишити його.",
        ),
        _entry(
            "LINETEST",
            Precedence.ROUTINE,
            ("serial",),
            "Scheduled line test number {serial}. No action is required.",
            "Плановая проверка линии номер {serial}. Никаких действий не требуется.",
            "Планова перевірка лінії номер {serial}. Жодних дій не потрібно.",
        ),
        _entry(
            "RECEIVED",
            Precedence.PRIORITY,
            ("ref",),
            "Your message {ref} is received and under review. A reply follows.",
            "Ваше сообщение {ref} получено и рассматривается. Ответ последует.",
            "Ваше повідомлення {ref} отримано й розглядається. Відповідь надійде.",
        ),
    ),
)


def _check_params(params: Mapping[str, str]) -> None:
    for name, value in params.items():
        if not _PARAM.match(name) or not isinstance(value, str) or len(value) > 200:
            raise InvalidInput(f"invalid parameter {name!r}")
