"""A vehicle registry — QLDB's own sample application (people, driver's licences, vehicles,
registrations) — writing to the drill's source ledger as an application would: parameterised
INSERT, UPDATE (nested paths, SET and REMOVE) and DELETE through pyqldb, reading before it
writes, with values of every Ion type (strings, symbols, ints big and small, decimals with
their precision and a negative zero, floats, timestamps of day and microsecond precision,
blobs, clobs, lists, s-expressions, structs, typed nulls, annotations).

One writer, so transactions commit in the order they are acknowledged. The application keeps
each acknowledged transaction (its id, when it started and when its commit was acknowledged,
and the documents it left) so that a restore can be held to it: `state(n)` is what the ledger
held after the first n acknowledged transactions, by application key.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from amazon.ion import simpleion
from amazon.ion.core import IonType
from amazon.ion.simple_types import IonPyDict
from pyqldb.driver.qldb_driver import QldbDriver

from qldb_dr.ion import ion_hash
from qldb_dr.ion.typed import typed

# Each table, and the field the application finds its documents by (indexed).
KEYS = {"Person": "PersonId", "DriversLicense": "LicenseNumber", "Vehicle": "VIN", "VehicleRegistration": "VIN"}
INDEXES = (
    ("Person", "PersonId"),
    ("Person", "GovId"),
    ("DriversLicense", "LicenseNumber"),
    ("DriversLicense", "PersonId"),
    ("Vehicle", "VIN"),
    ("VehicleRegistration", "VIN"),
)

FIRST = ("Raul", "Brent", "Alexis", "Patrick", "Kaylee", "José", "Zoë", "Łukasz", "Aiko", "Nnamdi")
LAST = ("Lewis", "Pena", "Logan", "Pham", "Ñúñez", "Müller", "O'Brien", "Sato", "Okafor", "Dubois")
MAKES = (("Mercedes", "CLK 350"), ("Ford", "Explorer"), ("Honda", "Civic"), ("Tesla", "Model 3"), ("Volvo", "V40"))
COLOURS = ("Green", "Red", "Silver", "Blue", "Black", "White")
CITIES = (("WA", "Kent"), ("WA", "Everett"), ("OR", "Portland"), ("CA", "San Jose"), ("NY", "Albany"))
FEATURES = ("abs", "airbags", "cruise", "heated_seats", "tow_bar", "sunroof")


@dataclass(frozen=True, slots=True)
class Change:
    """A document the transaction left: its new value, or None when it deleted it."""

    table: str
    key: str
    value: Any


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """One transaction whose commit the ledger acknowledged."""

    index: int  # 0, 1, … in commit order
    transaction_id: str
    kind: str  # what the application did
    started: datetime  # before its first statement was sent
    acknowledged: datetime  # when the commit's answer arrived
    changes: tuple[Change, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "transactionId": self.transaction_id,
            "kind": self.kind,
            "startedAt": self.started.isoformat(),
            "acknowledgedAt": self.acknowledged.isoformat(),
        }


def _ion(text: str) -> Any:
    return typed(simpleion.loads(text))


def _string(text: str) -> str:
    """An Ion string literal (JSON's escapes are Ion's)."""
    return json.dumps(text, ensure_ascii=False)


def _day(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d}T"  # a timestamp of day precision


def _with(document: Any, path: tuple[str, ...], value: Any) -> Any:
    """A copy of `document` with the field at `path` set to `value` (None: removed)."""
    copy = IonPyDict.from_value(IonType.STRUCT, {}, getattr(document, "ion_annotations", ()))
    head = path[0]
    for name, item in document.items():
        if name != head:
            copy.add_item(name, item)
    if len(path) > 1:
        copy.add_item(head, _with(document[head], path[1:], value))
    elif value is not None:
        copy.add_item(head, typed(value))
    return copy


@dataclass
class Application:
    """The registry, writing through `driver`; `random` decides what it does next."""

    driver: QldbDriver
    random: random.Random = field(default_factory=random.Random)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    log: list[Acknowledged] = field(default_factory=list)
    live: dict[str, dict[str, Any]] = field(default_factory=lambda: {t: {} for t in KEYS})
    failures: int = 0  # transactions that did not commit (the region lost under them)
    last_error: str = ""
    _serial: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- running ------------------------------------------------------------------------------

    def setup(self) -> None:
        """The tables and their indexes, a transaction each (acknowledged like any other)."""
        statements = [f"CREATE TABLE {table}" for table in KEYS]
        statements += [f"CREATE INDEX ON {table} ({key})" for table, key in INDEXES]
        for statement in statements:

            def ddl(t: Any, statement: str = statement) -> list[Change]:
                self._rows(t, statement)
                return []

            self._commit(" ".join(statement.split()[:2]).lower(), ddl)

    def run(self, rate: float, stop: threading.Event) -> None:
        """Write about `rate` transactions a second until `stop` is set; a transaction that fails
        (the ledger unreachable) is not acknowledged and is counted, and the writer goes on."""
        interval = 1.0 / rate
        due = time.monotonic()
        while not stop.is_set():
            try:
                self.step()
            except Exception as exc:  # any failure of a write: it was not acknowledged
                with self._lock:
                    self.failures += 1
                    self.last_error = f"{type(exc).__name__}: {exc}"[:300]
            due += interval
            stop.wait(max(0.0, due - time.monotonic()))

    def step(self) -> None:
        """One transaction of the registry's business, chosen by weight among those possible."""
        live = self.live
        choices: list[tuple[int, Callable[[], None]]] = [(4, self.register_person)]
        if live["Person"]:
            choices.append((4, self.register_vehicle))
        if live["VehicleRegistration"] and live["Person"]:
            choices += [(3, self.transfer), (1, self.add_secondary_owner), (2, self.ticket)]
        if live["Vehicle"]:
            choices += [(3, self.mileage), (1, self.repaint), (1, self.scrap)]
        if live["DriversLicense"]:
            choices += [(2, self.renew_licence), (1, self.revoke_licence)]
        if live["Person"]:
            choices.append((1, self.move_house))
        weights, actions = zip(*choices, strict=True)
        self.random.choices(actions, weights=weights)[0]()

    @property
    def acknowledged(self) -> int:
        return len(self.log)

    # -- the registry's transactions ------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        self._serial += 1
        return f"{prefix}{self._serial:07d}-{self.random.randrange(16**4):04x}"

    def register_person(self) -> None:
        rng, now = self.random, self.clock()
        person_id, licence = self._id("P"), self._id("L")
        born = now - timedelta(days=rng.randrange(18 * 365, 80 * 365))
        photo = simpleion.dumps(rng.randbytes(12), binary=False, omit_version_marker=True)
        person = _ion(
            f"{{PersonId: {_string(person_id)}, FirstName: {_string(rng.choice(FIRST))}, "
            f"LastName: {_string(rng.choice(LAST))}, DOB: {_day(born)}, GovId: {_string(self._id('G'))}, "
            f"GovIdType: {rng.choice(['driver_licence', 'passport', 'state_id'])}, "
            f"Address: {_string(f'{rng.randrange(1, 9999)} Main St, {rng.choice(CITIES)[1]}')}, "
            f'Phone: ["+1 555 {rng.randrange(1000, 9999)}"], Photo: {photo}}}'
        )
        issued = now - timedelta(days=rng.randrange(0, 3650))
        licence_doc = _ion(
            f"{{LicenseNumber: {_string(licence)}, PersonId: {_string(person_id)}, "
            f"LicenseType: {_string(rng.choice(['Learner', 'Full', 'Commercial']))}, "
            f"ValidFromDate: {_day(issued)}, ValidToDate: {_day(issued + timedelta(days=3650))}, "
            f"Points: {rng.randrange(0, 6)}, Endorsements: null.list, Restricted: {rng.choice(['true', 'false'])}}}"
        )

        def body(t: Any) -> list[Change]:
            self._rows(t, "INSERT INTO Person ?", person)
            self._rows(t, "INSERT INTO DriversLicense ?", licence_doc)
            return [Change("Person", person_id, person), Change("DriversLicense", licence, licence_doc)]

        self._commit("register person", body)

    def register_vehicle(self) -> None:
        rng, now = self.random, self.clock()
        vin = self._id("VIN")
        make, model = rng.choice(MAKES)
        state, city = rng.choice(CITIES)
        owner = rng.choice(sorted(self.live["Person"]))
        features = " ".join(rng.sample(FEATURES, rng.randrange(0, 4)))
        vehicle = _ion(
            f"{{VIN: {_string(vin)}, Type: {_string(rng.choice(['Sedan', 'Truck', 'Wagon']))}, "
            f"Year: {rng.randrange(1995, 2027)}, Make: {_string(make)}, Model: {_string(model)}, "
            f"Color: {_string(rng.choice(COLOURS))}, EngineLitres: {rng.choice(['1.6', '2.0', '3.5'])}e0, "
            f"Fuel: {rng.choice(['petrol', 'diesel', 'electric'])}, Mileage: km::{rng.randrange(0, 250_000)}, "
            f'Features: ({features}), Manual: {{{{"{make} {model} owner\'s manual"}}}}}}'
        )
        registered = now.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"
        registration = _ion(
            f"{{VIN: {_string(vin)}, LicensePlateNumber: {_string(f'{rng.randrange(100, 999)}{vin[-3:].upper()}')}, "
            f"State: {_string(state)}, City: {_string(city)}, PendingPenaltyTicketAmount: 0.00, "
            f"ValidFromDate: {_day(now)}, ValidToDate: {_day(now + timedelta(days=365))}, "
            f"RegisteredAt: {registered}, FeeMicros: {rng.randrange(10**28, 10**30)}, Refund: -0.00, "
            f"Owners: {{PrimaryOwner: {{PersonId: {_string(owner)}}}, SecondaryOwners: []}}}}"
        )

        def body(t: Any) -> list[Change]:
            self._rows(t, "SELECT PersonId FROM Person AS p WHERE p.PersonId = ?", owner)  # the owner exists
            self._rows(t, "INSERT INTO Vehicle ?", vehicle)
            self._rows(t, "INSERT INTO VehicleRegistration ?", registration)
            return [Change("Vehicle", vin, vehicle), Change("VehicleRegistration", vin, registration)]

        self._commit("register vehicle", body)

    def _update(self, kind: str, table: str, key: str, sets: dict[tuple[str, ...], Any], read: bool = True) -> None:
        """UPDATE one document by its key: SET each path to its value, REMOVE those set to None."""
        alias = table[0].lower()
        assignments = [f"{alias}.{'.'.join(p)} = ?" for p, v in sets.items() if v is not None]
        removals = [f"{alias}.{'.'.join(p)}" for p, v in sets.items() if v is None]
        statement = f"UPDATE {table} AS {alias}"
        statement += f" SET {', '.join(assignments)}" if assignments else ""
        statement += f" REMOVE {', '.join(removals)}" if removals else ""
        statement += f" WHERE {alias}.{KEYS[table]} = ?"
        document = self.live[table][key]
        for path, value in sets.items():
            document = _with(document, path, value)
        parameters = [typed(v) for v in sets.values() if v is not None]

        def body(t: Any) -> list[Change]:
            if read:
                self._rows(t, f"SELECT * FROM {table} AS {alias} WHERE {alias}.{KEYS[table]} = ?", key)
            self._rows(t, statement, *parameters, key)
            return [Change(table, key, document)]

        self._commit(kind, body)

    def transfer(self) -> None:
        vin = self.random.choice(sorted(self.live["VehicleRegistration"]))
        owner = self.random.choice(sorted(self.live["Person"]))
        self._update("transfer ownership", "VehicleRegistration", vin, {("Owners", "PrimaryOwner", "PersonId"): owner})

    def add_secondary_owner(self) -> None:
        vin = self.random.choice(sorted(self.live["VehicleRegistration"]))
        owners = [{"PersonId": p} for p in self.random.sample(sorted(self.live["Person"]), 1)]
        self._update("add secondary owner", "VehicleRegistration", vin, {("Owners", "SecondaryOwners"): owners})

    def ticket(self) -> None:
        vin = self.random.choice(sorted(self.live["VehicleRegistration"]))
        amount = Decimal(self.random.randrange(0, 50_000)).scaleb(-2)
        self._update("penalty ticket", "VehicleRegistration", vin, {("PendingPenaltyTicketAmount",): amount})

    def mileage(self) -> None:
        vin = self.random.choice(sorted(self.live["Vehicle"]))
        current = int(self.live["Vehicle"][vin]["Mileage"])
        reading = _ion(f"km::{current + self.random.randrange(1, 900)}")
        self._update("mileage reading", "Vehicle", vin, {("Mileage",): reading}, read=False)

    def repaint(self) -> None:
        vin = self.random.choice(sorted(self.live["Vehicle"]))
        features = _ion(f"({' '.join(self.random.sample(FEATURES, 2))})")
        self._update("repaint", "Vehicle", vin, {("Color",): self.random.choice(COLOURS), ("Features",): features})

    def renew_licence(self) -> None:
        number = self.random.choice(sorted(self.live["DriversLicense"]))
        until = _ion(_day(self.clock() + timedelta(days=3650)))
        points = self.random.randrange(0, 12)
        self._update("renew licence", "DriversLicense", number, {("ValidToDate",): until, ("Points",): points})

    def move_house(self) -> None:
        person = self.random.choice(sorted(self.live["Person"]))
        address = f"{self.random.randrange(1, 9999)} {self.random.choice(['Oak', 'Elm', 'Pine'])} Ave"
        self._update("move house", "Person", person, {("Address",): address, ("Phone",): None})

    def revoke_licence(self) -> None:
        number = self.random.choice(sorted(self.live["DriversLicense"]))

        def body(t: Any) -> list[Change]:
            self._rows(t, "DELETE FROM DriversLicense AS l WHERE l.LicenseNumber = ?", number)
            return [Change("DriversLicense", number, None)]

        self._commit("revoke licence", body)

    def scrap(self) -> None:
        vin = self.random.choice(sorted(self.live["Vehicle"]))

        def body(t: Any) -> list[Change]:
            self._rows(t, "DELETE FROM VehicleRegistration AS r WHERE r.VIN = ?", vin)
            self._rows(t, "DELETE FROM Vehicle AS v WHERE v.VIN = ?", vin)
            return [Change("VehicleRegistration", vin, None), Change("Vehicle", vin, None)]

        self._commit("scrap vehicle", body)

    # -- bookkeeping ---------------------------------------------------------------------------

    @staticmethod
    def _rows(t: Any, statement: str, *parameters: Any) -> list[Any]:
        return list(t.execute_statement(statement, *parameters))

    def _commit(self, kind: str, body: Callable[[Any], list[Change]]) -> None:
        """Run `body` as one transaction; once the commit is acknowledged, record it."""
        started = self.clock()
        seen: dict[str, Any] = {}

        def transaction(t: Any) -> list[Change]:
            seen["id"] = t.transaction_id  # the last attempt's, if pyqldb retried
            return body(t)

        changes = self.driver.execute_lambda(transaction)
        acknowledged = self.clock()
        with self._lock:
            for change in changes:
                if change.value is None:
                    self.live[change.table].pop(change.key, None)
                else:
                    self.live[change.table][change.key] = change.value
            self.log.append(Acknowledged(len(self.log), str(seen["id"]), kind, started, acknowledged, tuple(changes)))


def state(log: list[Acknowledged], count: int) -> dict[str, dict[str, Any]]:
    """What the ledger held after the first `count` acknowledged transactions: table -> key -> document."""
    held: dict[str, dict[str, Any]] = {t: {} for t in KEYS}
    for entry in log[:count]:
        for change in entry.changes:
            if change.value is None:
                held[change.table].pop(change.key, None)
            else:
                held[change.table][change.key] = change.value
    return held


def read_tables(driver: QldbDriver) -> dict[str, dict[str, Any]]:
    """A ledger's application tables, read back through pyqldb, by application key."""
    found: dict[str, dict[str, Any]] = {}
    for table, key in KEYS.items():
        rows = driver.execute_lambda(lambda t, table=table: list(t.execute_statement(f"SELECT * FROM {table}")))
        found[table] = {str(row[key]): row for row in rows}
    return found


def differences(expected: dict[str, dict[str, Any]], found: dict[str, dict[str, Any]]) -> list[str]:
    """Every document that differs between two states (Ion's data model: types, precision and
    annotations count), named by table and key."""
    lines = []
    for table in KEYS:
        want, got = expected.get(table, {}), found.get(table, {})
        for key in sorted(want.keys() | got.keys()):
            if key not in got:
                lines.append(f"{table} {key}: missing")
            elif key not in want:
                lines.append(f"{table} {key}: not written by the application up to there")
            elif ion_hash(want[key]) != ion_hash(got[key]):
                lines.append(f"{table} {key}: differs")
    return lines
