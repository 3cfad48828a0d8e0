"""Notification catalogue: versioned, strict schemas for notified military activity.

Kinds and their minimum notice (``MIN_LEAD_S``), after the agreements they follow:

* ``airspace_reservation`` (EUROCONTROL LARA-style booking of a volume);
* ``ballistic_missile_launch``: at least 24 h ahead, launch and impact areas (1988 Ballistic
  Missile Launch Notification Agreement);
* ``major_exercise``: at least 14 days ahead;
* ``naval_hazardous_operation``: 3 to 5 days ahead (1972 Incidents at Sea agreement, Art. VI);
* ``drone_operations``;
* ``special_caution_area`` and ``laser_use`` (1989 Dangerous Military Activities agreement);
* ``humanitarian_static_site`` and ``humanitarian_movement``: a movement at least 48 h ahead,
  with a route (UN OCHA Humanitarian Notification System).

A late notification is accepted and flagged (``lateness``). Models are Pydantic with
``extra="forbid"`` and strict types; ``parse_notice`` turns a validation failure into
``InvalidInput`` naming the bad field (e.g. ``launch_area.coordinates[0][3]``). ``render``
writes a notification as a numbered message in English, Russian or Ukrainian.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from molink.core.dtg import format_dtg
from molink.core.volume import Footprint, parse_footprint
from molink.errors import InvalidInput

__all__ = [
    "KINDS",
    "LANGS",
    "MIN_LEAD_S",
    "SCHEMA_VERSION",
    "AirspaceReservation",
    "BallisticMissileLaunch",
    "DroneOperations",
    "Geometry",
    "HumanitarianMovement",
    "HumanitarianStaticSite",
    "LaserUse",
    "MajorExercise",
    "NavalHazardousOperation",
    "Notice",
    "SpecialCautionArea",
    "lateness",
    "notice_json_schema",
    "parse_notice",
    "render",
]

SCHEMA_VERSION = 1
HOUR, DAY = 3600, 86400

#: Minimum notice in seconds before the activity starts, per kind.
MIN_LEAD_S: dict[str, int] = {
    "airspace_reservation": 0,
    "ballistic_missile_launch": 24 * HOUR,
    "major_exercise": 14 * DAY,
    "naval_hazardous_operation": 3 * DAY,
    "drone_operations": 0,
    "special_caution_area": 0,
    "laser_use": 0,
    "humanitarian_static_site": 0,
    "humanitarian_movement": 48 * HOUR,
}
KINDS = tuple(MIN_LEAD_S)

Time = Annotated[AwareDatetime, Field(strict=False)]
Text = Annotated[str, Field(min_length=1, max_length=200)]
Count = Annotated[int, Field(ge=0, le=1_000_000)]
Metres = Annotated[float, Field(ge=-500.0, le=1_000_000.0, allow_inf_nan=False)]
Length = Annotated[float, Field(gt=0.0, le=1_000_000.0, allow_inf_nan=False)]


class Geometry(BaseModel):
    """A GeoJSON geometry (RFC 7946): Point, LineString, Polygon or MultiPolygon."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    type: Literal["Point", "LineString", "Polygon", "MultiPolygon"]
    coordinates: list[Any]

    def footprint(
        self, *, radius_m: float | None = None, width_m: float | None = None
    ) -> Footprint:
        """The footprint; raises InvalidInput naming ``coordinates`` paths."""
        return parse_footprint(self.model_dump(), radius_m=radius_m, width_m=width_m, path="")


class _Notice(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    schema_version: Literal[1] = 1
    title: Text
    start: Time
    end: Time
    remarks: Annotated[str, Field(max_length=2000)] | None = None

    @model_validator(mode="after")
    def _window(self) -> _Notice:
        if self.end <= self.start:
            raise ValueError("end: must be after start")
        return self

    def _check_geometry(self, name: str, **kw: float | None) -> None:
        geom: Geometry = getattr(self, name)
        try:
            geom.footprint(**kw)
        except InvalidInput as exc:
            msg = exc.message
            raise ValueError(f"{name}{msg}" if msg[:1] in ".:" else f"{name}: {msg}") from exc


class _Band(_Notice):
    lower_m: Metres
    upper_m: Metres

    @model_validator(mode="after")
    def _band(self) -> _Band:
        if self.upper_m <= self.lower_m:
            raise ValueError("upper_m: must be above lower_m")
        return self


class AirspaceReservation(_Band):
    kind: Literal["airspace_reservation"]
    area: Geometry
    radius_m: Length | None = None
    width_m: Length | None = None
    purpose: Text

    @model_validator(mode="after")
    def _geom(self) -> AirspaceReservation:
        self._check_geometry("area", radius_m=self.radius_m, width_m=self.width_m)
        return self


class BallisticMissileLaunch(_Notice):
    kind: Literal["ballistic_missile_launch"]
    launch_area: Geometry
    launch_radius_m: Length | None = None
    impact_area: Geometry
    impact_radius_m: Length | None = None
    missile_type: Text | None = None
    launches: Annotated[int, Field(ge=1, le=1000)] = 1

    @model_validator(mode="after")
    def _geom(self) -> BallisticMissileLaunch:
        self._check_geometry("launch_area", radius_m=self.launch_radius_m)
        self._check_geometry("impact_area", radius_m=self.impact_radius_m)
        return self


class MajorExercise(_Notice):
    kind: Literal["major_exercise"]
    area: Geometry
    radius_m: Length | None = None
    exercise_name: Text
    personnel: Count
    aircraft: Count = 0
    vessels: Count = 0

    @model_validator(mode="after")
    def _geom(self) -> MajorExercise:
        self._check_geometry("area", radius_m=self.radius_m)
        return self


class NavalHazardousOperation(_Notice):
    kind: Literal["naval_hazardous_operation"]
    area: Geometry
    radius_m: Length | None = None
    hazard: Literal[
        "gunnery", "missile_firing", "torpedo", "mine", "underwater_demolition", "other"
    ]
    vessels: Count = 0

    @model_validator(mode="after")
    def _geom(self) -> NavalHazardousOperation:
        self._check_geometry("area", radius_m=self.radius_m)
        return self


class DroneOperations(_Band):
    kind: Literal["drone_operations"]
    area: Geometry
    radius_m: Length | None = None
    width_m: Length | None = None
    drones: Annotated[int, Field(ge=1, le=100_000)]
    drone_type: Text

    @model_validator(mode="after")
    def _geom(self) -> DroneOperations:
        self._check_geometry("area", radius_m=self.radius_m, width_m=self.width_m)
        return self


class SpecialCautionArea(_Band):
    kind: Literal["special_caution_area"]
    area: Geometry
    radius_m: Length | None = None
    reason: Text

    @model_validator(mode="after")
    def _geom(self) -> SpecialCautionArea:
        self._check_geometry("area", radius_m=self.radius_m)
        return self


class LaserUse(_Band):
    kind: Literal["laser_use"]
    area: Geometry
    radius_m: Length | None = None
    laser_class: Literal["1", "1M", "2", "2M", "3R", "3B", "4"]
    wavelength_nm: Annotated[float, Field(gt=0.0, le=100_000.0, allow_inf_nan=False)]
    azimuth_from_deg: Annotated[float, Field(ge=0.0, lt=360.0)]
    azimuth_to_deg: Annotated[float, Field(ge=0.0, lt=360.0)]

    @model_validator(mode="after")
    def _geom(self) -> LaserUse:
        self._check_geometry("area", radius_m=self.radius_m)
        return self


class HumanitarianStaticSite(_Notice):
    kind: Literal["humanitarian_static_site"]
    location: Geometry
    radius_m: Length
    site_type: Literal["hospital", "shelter", "warehouse", "office", "distribution", "other"]
    organisation: Text

    @model_validator(mode="after")
    def _geom(self) -> HumanitarianStaticSite:
        if self.location.type != "Point":
            raise ValueError("location.type: a static site is a Point")
        self._check_geometry("location", radius_m=self.radius_m)
        return self


class HumanitarianMovement(_Notice):
    kind: Literal["humanitarian_movement"]
    route: Geometry
    width_m: Length
    organisation: Text
    vehicles: Annotated[int, Field(ge=1, le=10_000)]
    persons: Count = 0

    @field_validator("route")
    @classmethod
    def _route(cls, value: Geometry) -> Geometry:
        if value.type != "LineString":
            raise ValueError("a movement's route is a LineString")
        return value

    @model_validator(mode="after")
    def _geom(self) -> HumanitarianMovement:
        self._check_geometry("route", width_m=self.width_m)
        return self


Notice = Annotated[
    AirspaceReservation
    | BallisticMissileLaunch
    | MajorExercise
    | NavalHazardousOperation
    | DroneOperations
    | SpecialCautionArea
    | LaserUse
    | HumanitarianStaticSite
    | HumanitarianMovement,
    Field(discriminator="kind"),
]
_ADAPTER: TypeAdapter[Notice] = TypeAdapter(Notice)


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_notice(data: object) -> Notice:
    """Validate a notification (a dict from JSON). Raises InvalidInput naming the field."""
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = tuple(p for p in err["loc"] if p not in KINDS)
        msg = str(err["msg"]).removeprefix("Value error, ")
        where = _path(loc) or ("kind" if str(err["type"]).startswith("union_tag") else "")
        raise InvalidInput(f"{where}: {msg}" if where else msg) from exc


def notice_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of every notification kind, as a discriminated union."""
    schema = _ADAPTER.json_schema()
    schema["$id"] = f"https://molink.example/schemas/notice/v{SCHEMA_VERSION}.json"
    schema["title"] = f"molink notification v{SCHEMA_VERSION}"
    return schema


def lateness(kind: str, filed_at: datetime, start: datetime) -> int | None:
    """Seconds by which a notification filed at ``filed_at`` misses its kind's minimum
    notice before ``start``, or None when it is on time. Late notices are accepted, flagged."""
    if kind not in MIN_LEAD_S:
        raise InvalidInput(f"kind: unknown notification kind {kind!r}")
    if filed_at.tzinfo is None or start.tzinfo is None:
        raise InvalidInput("filed_at/start: times must be timezone-aware")
    lead = (start - filed_at).total_seconds()
    short = MIN_LEAD_S[kind] - lead
    return int(short) if short > 0 else None


# --------------------------------------------------------------------------------------------
# rendering: numbered, OSCE-style messages in English, Russian and Ukrainian
# --------------------------------------------------------------------------------------------

Lang = Literal["en", "ru", "uk"]
LANGS: tuple[Lang, ...] = ("en", "ru", "uk")

_KIND_NAMES: dict[str, tuple[str, str, str]] = {
    "airspace_reservation": (
        "Airspace reservation",
        "Резервирование воздушного пространства",
        "Резервування повітряного простору",
    ),
    "ballistic_missile_launch": (
        "Ballistic missile launch",
        "Пуск баллистической ракеты",
        "Пуск балістичної ракети",
    ),
    "major_exercise": (
        "Major military exercise",
        "Крупные военные учения",
        "Великі військові навчання",
    ),
    "naval_hazardous_operation": (
        "Naval operation hazardous to navigation",
        "Действия военно-морских сил, опасные для судоходства",
        "Дії військово-морських сил, небезпечні для судноплавства",
    ),
    "drone_operations": (
        "Unmanned aircraft operations",
        "Полёты беспилотных летательных аппаратов",
        "Польоти безпілотних літальних апаратів",
    ),
    "special_caution_area": (
        "Special caution area",
        "Район особой осторожности",
        "Район особливої обережності",
    ),
    "laser_use": ("Use of laser", "Использование лазера", "Використання лазера"),
    "humanitarian_static_site": (
        "Humanitarian site (static)",
        "Гуманитарный объект (стационарный)",
        "Гуманітарний об'єкт (стаціонарний)",
    ),
    "humanitarian_movement": (
        "Humanitarian movement",
        "Гуманитарное передвижение",
        "Гуманітарне переміщення",
    ),
}

_LABELS: dict[str, tuple[str, str, str]] = {
    "notification": ("NOTIFICATION", "УВЕДОМЛЕНИЕ", "ПОВІДОМЛЕННЯ"),
    "title": ("Title", "Наименование", "Назва"),
    "period": ("Period (UTC)", "Период (UTC)", "Період (UTC)"),
    "area": ("Area", "Район", "Район"),
    "altitude": ("Altitude band", "Диапазон высот", "Діапазон висот"),
    "purpose": ("Purpose", "Цель", "Мета"),
    "launch_area": ("Launch area", "Район пуска", "Район пуску"),
    "impact_area": ("Impact area", "Район падения", "Район падіння"),
    "missile_type": ("Missile type", "Тип ракеты", "Тип ракети"),
    "launches": ("Number of launches", "Количество пусков", "Кількість пусків"),
    "exercise_name": ("Exercise", "Учения", "Навчання"),
    "personnel": ("Personnel", "Личный состав", "Особовий склад"),
    "aircraft": ("Aircraft", "Летательные аппараты", "Літальні апарати"),
    "vessels": ("Ships", "Корабли", "Кораблі"),
    "hazard": ("Hazard", "Вид опасности", "Вид небезпеки"),
    "drones": ("Number of drones", "Количество БПЛА", "Кількість БПЛА"),
    "drone_type": ("Drone type", "Тип БПЛА", "Тип БПЛА"),
    "reason": ("Reason", "Причина", "Причина"),
    "laser_class": ("Laser class", "Класс лазера", "Клас лазера"),
    "wavelength_nm": ("Wavelength", "Длина волны", "Довжина хвилі"),
    "sector": ("Sector (true azimuth)", "Сектор (истинный азимут)", "Сектор (істинний азимут)"),
    "location": ("Location", "Местоположение", "Місцезнаходження"),
    "site_type": ("Site type", "Тип объекта", "Тип об'єкта"),
    "organisation": ("Organisation", "Организация", "Організація"),
    "route": ("Route", "Маршрут", "Маршрут"),
    "vehicles": ("Vehicles", "Транспортные средства", "Транспортні засоби"),
    "persons": ("Persons", "Число людей", "Кількість людей"),
    "remarks": ("Remarks", "Примечания", "Примітки"),
    "late": (
        "LATE NOTIFICATION: filed {lead} h before the start; {need} h required",
        "ПОЗДНЕЕ УВЕДОМЛЕНИЕ: подано за {lead} ч до начала; требуется {need} ч",
        "ПІЗНЄ ПОВІДОМЛЕННЯ: подано за {lead} год до початку; потрібно {need} год",
    ),
}

_VALUES: dict[str, tuple[str, str, str]] = {
    "gunnery": ("gunnery", "артиллерийские стрельбы", "артилерійські стрільби"),
    "missile_firing": ("missile firing", "ракетные стрельбы", "ракетні стрільби"),
    "torpedo": ("torpedo firing", "торпедные стрельбы", "торпедні стрільби"),
    "mine": ("mine laying", "постановка мин", "постановка мін"),
    "underwater_demolition": (
        "underwater demolition",
        "подводные взрывные работы",
        "підводні вибухові роботи",
    ),
    "other": ("other", "прочее", "інше"),
    "hospital": ("hospital", "больница", "лікарня"),
    "shelter": ("shelter", "убежище", "укриття"),
    "warehouse": ("warehouse", "склад", "склад"),
    "office": ("office", "офис", "офіс"),
    "distribution": ("distribution point", "пункт раздачи помощи", "пункт видачі допомоги"),
}

_WORDS: dict[str, tuple[str, str, str]] = {
    "radius": ("radius", "радиус", "радіус"),
    "width": ("width", "ширина", "ширина"),
    "polygon": ("polygon, vertices", "многоугольник, вершины", "багатокутник, вершини"),
    "polygons": ("polygons", "многоугольников", "багатокутників"),
    "line": ("line through", "линия через точки", "лінія через точки"),
    "point": ("point", "точка", "точка"),
    "to": ("to", "до", "до"),
    "m": ("m AMSL", "м над уровнем моря", "м над рівнем моря"),
    "km": ("km", "км", "км"),
    "nm": ("nm", "нм", "нм"),
    "N": ("N", "с. ш.", "пн. ш."),
    "S": ("S", "ю. ш.", "пд. ш."),
    "E": ("E", "в. д.", "сх. д."),
    "W": ("W", "з. д.", "зх. д."),
}


def _t(table: dict[str, tuple[str, str, str]], key: str, lang: Lang) -> str:
    return table[key][LANGS.index(lang)]


def _num(value: float, lang: Lang, digits: int = 1) -> str:
    text = f"{value:.{digits}f}"
    return text if lang == "en" else text.replace(".", ",")


def _angle(value: float, pos: str, neg: str, width: int, lang: Lang) -> str:
    hemi = _t(_WORDS, pos if value >= 0 else neg, lang)
    minutes = round(abs(value) * 60.0, 1)
    deg, mins = divmod(minutes, 60.0)
    sep = "" if lang == "en" else " "
    return f"{int(deg):0{width}d}°{_num(mins, lang).zfill(4)}′{sep}{hemi}"


def _position(pos: list[Any], lang: Lang) -> str:
    lon, lat = float(pos[0]), float(pos[1])
    return f"{_angle(lat, 'N', 'S', 2, lang)} {_angle(lon, 'E', 'W', 3, lang)}"


def _geometry(geom: Geometry, lang: Lang, radius: float | None, width: float | None) -> str:
    c = geom.coordinates
    if geom.type == "Point":
        text = f"{_t(_WORDS, 'point', lang)} {_position(c, lang)}"
    elif geom.type == "LineString":
        text = f"{_t(_WORDS, 'line', lang)} " + "; ".join(_position(p, lang) for p in c)
    elif geom.type == "Polygon":
        ring = c[0][:-1]
        text = f"{_t(_WORDS, 'polygon', lang)}: " + "; ".join(_position(p, lang) for p in ring)
    else:
        text = f"{len(c)} {_t(_WORDS, 'polygons', lang)}"
    if radius is not None:
        text += (
            f", {_t(_WORDS, 'radius', lang)} {_num(radius / 1000.0, lang)} {_t(_WORDS, 'km', lang)}"
        )
    if width is not None:
        text += (
            f", {_t(_WORDS, 'width', lang)} {_num(width / 1000.0, lang)} {_t(_WORDS, 'km', lang)}"
        )
    return text


def _fields(n: Any, lang: Lang) -> list[tuple[str, str]]:
    """(label key, rendered value) of the kind-specific fields, in the catalogue's order."""
    out: list[tuple[str, str]] = []
    for key, geom, rad, wid in (
        ("area", "area", "radius_m", "width_m"),
        ("launch_area", "launch_area", "launch_radius_m", ""),
        ("impact_area", "impact_area", "impact_radius_m", ""),
        ("location", "location", "radius_m", ""),
        ("route", "route", "", "width_m"),
    ):
        if hasattr(n, geom):
            radius = getattr(n, rad, None) if rad else None
            width = getattr(n, wid, None) if wid else None
            out.append((key, _geometry(getattr(n, geom), lang, radius, width)))
    if hasattr(n, "lower_m"):
        m = _t(_WORDS, "m", lang)
        band = f"{_num(n.lower_m, lang, 0)}–{_num(n.upper_m, lang, 0)} {m}"
        out.append(("altitude", band))
    for key in ("purpose", "exercise_name", "missile_type", "launches", "personnel", "aircraft",
                "vessels", "drones", "drone_type", "reason", "laser_class", "organisation",
                "vehicles", "persons"):  # fmt: skip
        value = getattr(n, key, None)
        if value is not None:
            out.append((key, str(value)))
    for key in ("hazard", "site_type"):
        if hasattr(n, key):
            out.append((key, _t(_VALUES, getattr(n, key), lang)))
    if hasattr(n, "wavelength_nm"):
        out.append(("wavelength_nm", f"{_num(n.wavelength_nm, lang, 0)} {_t(_WORDS, 'nm', lang)}"))
        sector = f"{_num(n.azimuth_from_deg, lang)}°–{_num(n.azimuth_to_deg, lang)}°"
        out.append(("sector", sector))
    return out


def render(notice: Notice, lang: Lang, *, filed_at: datetime | None = None) -> str:
    """The notification as a numbered message in ``lang`` (en, ru or uk).

    Field values that are free text (titles, remarks) stay as filed: the original is
    authoritative (MISSION.md). With ``filed_at``, a late notification carries a flag line.
    """
    if lang not in LANGS:
        raise InvalidInput(f"lang: unsupported language {lang!r}; use en, ru or uk")
    head = f"{_t(_LABELS, 'notification', lang)} — {_t(_KIND_NAMES, notice.kind, lang).upper()}"
    period = f"{format_dtg(notice.start)} — {format_dtg(notice.end)}"
    rows = [("title", notice.title), ("period", period), *_fields(notice, lang)]
    if notice.remarks:
        rows.append(("remarks", notice.remarks))
    lines = [head] + [f"{i}. {_t(_LABELS, k, lang)}: {v}" for i, (k, v) in enumerate(rows, 1)]
    if filed_at is not None:
        late = lateness(notice.kind, filed_at, notice.start)
        if late is not None:
            lead = (notice.start - filed_at).total_seconds() / 3600.0
            need = MIN_LEAD_S[notice.kind] / 3600.0
            flag = _t(_LABELS, "late", lang)
            lines.append(flag.format(lead=_num(lead, lang), need=_num(need, lang, 0)))
    return "\n".join(lines)
