"""Helpers the clause files share: applicability from the interoperability list, start-up, commands.

Applicability is decided here, so every clause says "not applicable" the
same way, naming the profile key.
"""

from __future__ import annotations

import datetime

from wireproof.codecs.iec104.constants import Cause, TypeId
from wireproof.codecs.iec104.messages import Asdu, Cp56Time2a, InformationObject
from wireproof.conformance.iec104_server._connection import Connection
from wireproof.conformance.iec104_server.conftest import Settings
from wireproof.conformance.iec104_server.profile import StationProfile
from wireproof.harness.clauses import setup_step
from wireproof.harness.plugin import inconclusive, not_applicable
from wireproof.harness.suite_support import wall_clock_ms

__all__ = ["asdu_text", "closes", "require_point", "require_type", "require_wait", "started"]

QOI_STATION = 20  # 101 7.2.6.22: station interrogation (global)
QCC_GENERAL = 5  # 101 7.2.6.23: RQT 5 general request counter, FRZ 0 read


def require_type(profile: StationProfile, *type_ids: int) -> None:
    missing = [TypeId(t).name for t in type_ids if not profile.supports(t)]
    if missing:
        not_applicable(f"the interoperability list does not list {', '.join(missing)} (control.types)")


def require_point(profile: StationProfile, key: str) -> int:
    ioa = profile.point(key)
    if not ioa:
        not_applicable(f"the interoperability list names no IOA for points.{key}")
    return ioa


def require_wait(settings: Settings, seconds: float, what: str) -> None:
    if seconds > settings.max_wait:
        inconclusive(
            f"{what} takes {seconds:g} s, longer than max_wait ({settings.max_wait:g} s): give a "
            "shorter timer in the profile or --param, or a larger --param max_wait"
        )


def started(station: Connection, profile: StationProfile | None = None) -> None:
    """Set-up: STARTDT act answered by its con; the end of initialisation a station sends then is taken in."""
    with setup_step(station, "start data transfer (STARTDT act -> STARTDT con)"):
        station.start()
    if profile is not None and profile.end_of_initialisation:
        station.wait_for(lambda: any(a.type_id == TypeId.M_EI_NA_1 for _, a in station.asdus), 0.5)
    station.clear()


def closes(station: Connection, timeout: float, what: str) -> None:
    """The station must close the connection within ``timeout`` after ``what``."""
    if station.closes_within(timeout):
        return
    raise AssertionError(
        f"{what}: the connection is still open {timeout:g} s later; the station must close it"
    )


def asdu_text(asdu: Asdu) -> str:
    from wireproof.conformance.iec104_server._connection import describe_asdu

    return describe_asdu(asdu)


def interrogation(
    common_address: int, qoi: int = QOI_STATION, *, cause: int = Cause.ACTIVATION, originator: int = 0
) -> Asdu:
    return Asdu(
        type_id=TypeId.C_IC_NA_1,
        cause=cause,
        common_address=common_address,
        originator=originator,
        objects=(InformationObject(address=0, elements={"qoi": qoi}),),
    )


def confirm_of(station: Connection, request: Asdu, what: str, *, positive: bool = True) -> Asdu:
    """The ACT_CON mirroring ``request`` (same type id and common address): positive unless said."""
    con = station.read_asdu(
        lambda a: (
            a.type_id == request.type_id
            and a.cause == Cause.ACTIVATION_CON
            and a.common_address == request.common_address
        ),
        what=f"ACT_CON of the {what}",
    )
    if positive:
        assert not con.negative, f"{what}: the ACT_CON is negative (P/N=1): {asdu_text(con)}"
    return con


def stopped_state(station: Connection, profile: StationProfile | None = None) -> None:
    """Set-up: started, then stopped again (S frame if due, STOPDT act -> STOPDT con)."""
    started(station, profile)
    with setup_step(station, "stop data transfer (STOPDT act -> STOPDT con)"):
        station.stop()
    station.clear()


def now_cp56() -> Cp56Time2a:
    """The wall clock now (UTC) as CP56Time2a."""
    when = datetime.datetime.fromtimestamp(wall_clock_ms() / 1000, datetime.UTC).replace(tzinfo=None)
    return Cp56Time2a.from_datetime(when)


def probe_request(profile: StationProfile, settings: Settings, n: int = 0) -> Asdu:
    """A request the station answers with one ACT_CON and nothing else when it can: a test command
    (C_TS_TA_1, test sequence counter ``n``) if listed, else a station interrogation."""
    if profile.supports(TypeId.C_TS_TA_1):
        return Asdu(
            type_id=TypeId.C_TS_TA_1,
            cause=Cause.ACTIVATION,
            common_address=settings.common_address,
            objects=(InformationObject(address=0, elements={"tsc": n & 0xFFFF, "time": now_cp56()}),),
        )
    return interrogation(settings.common_address)
