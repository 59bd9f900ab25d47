"""The IEC 104 fast path: APCI formats, every type identification, errors with path and offset."""

from __future__ import annotations

from typing import Any

import pytest

from wireproof.codecs._core import NEED_DATA
from wireproof.codecs.iec104 import (
    ELEMENTS,
    ApduFramer,
    Asdu,
    Cp24Time2a,
    Cp56Time2a,
    FieldSizes,
    IFrame,
    InformationObject,
    Quality,
    SFrame,
    TypeId,
    UFrame,
    UFunction,
    apdu_codec,
    decode_apdu,
    decode_asdu,
    encode_apdu,
    encode_asdu,
)
from wireproof.codecs.iec104.constants import IEC101_ONLY
from wireproof.errors import DecodeError, EncodeError, TrailingDataError, TruncatedError

T0 = Cp56Time2a(milliseconds=59999, minute=59, hour=23, day=31, month=12, year=99, weekday=7,
                invalid=True, summer=True, substituted=True)
SAMPLE: dict[str, Any] = {
    "quality": Quality.IV | Quality.NT, "transient": True, "sequence": 31, "carry": True, "adjusted": False,
    "invalid": True, "status": 0xA55A, "change": 0x0F0F, "time": T0, "event": 2, "elapsed": 59999,
    "start": 0x3F, "duration": 1000, "circuit": 0x0F, "operating": 7, "qualifier": 3, "select": True,
    "coi": 2, "parameters_changed": True, "qoi": 20, "qcc": 0x45, "fbp": 0x55AA, "qrp": 1, "delay": 250,
    "tsc": 0x1234, "qpm": 0x41, "qpa": 3, "nof": 0x0102, "lof": 0x030405, "frq": 0x80, "nos": 9,
    "los": 0x010203, "srq": 0x80, "scq": 2, "lsq": 3, "chs": 0xAB, "afq": 1, "sof": 0x20,
    "segment": b"\x01\x02\x03", "stop": T0,
}
VALUE: dict[int, Any] = {
    TypeId.M_SP_NA_1: True, TypeId.M_DP_NA_1: 2, TypeId.M_ST_NA_1: -64, TypeId.M_BO_NA_1: 0xDEADBEEF,
    TypeId.M_ME_NA_1: -1.0, TypeId.M_ME_NB_1: -32768, TypeId.M_ME_NC_1: 1.5, TypeId.M_IT_NA_1: -(1 << 31),
    TypeId.M_ME_ND_1: 0.5, TypeId.C_SC_NA_1: True, TypeId.C_DC_NA_1: 1, TypeId.C_RC_NA_1: 2,
    TypeId.C_SE_NA_1: 1 - 2 ** -15, TypeId.C_SE_NB_1: 32767, TypeId.C_SE_NC_1: -2.25, TypeId.C_BO_NA_1: 1,
    TypeId.P_ME_NA_1: 0.25, TypeId.P_ME_NB_1: -7, TypeId.P_ME_NC_1: 3.0,
}
T24 = Cp24Time2a(milliseconds=1234, minute=7, invalid=True, substituted=False)
_TIMED = {2: 1, 4: 3, 6: 5, 8: 7, 10: 9, 12: 11, 14: 13, 16: 15, 17: 38, 18: 39, 19: 40,
          30: 1, 31: 3, 32: 5, 33: 7, 34: 9, 35: 11, 36: 13, 37: 15,
          58: 45, 59: 46, 60: 47, 61: 48, 62: 49, 63: 50, 64: 51}


def sample_object(type_id: int, address: int) -> InformationObject:
    elements = {}
    for name in ELEMENTS[type_id]:
        if name == "value":
            elements[name] = VALUE[_TIMED.get(type_id, type_id)]
        elif name == "time" and type_id in IEC101_ONLY:
            elements[name] = T24
        elif name == "start" and type_id == TypeId.F_SC_NB_1:
            elements[name] = T0
        elif name == "quality" and type_id in (TypeId.M_SP_NA_1, TypeId.M_DP_NA_1, 2, 4, 30, 31):
            elements[name] = Quality.BL | Quality.SB
        elif name == "quality" and type_id in (17, 18, 19, 38, 39, 40):
            elements[name] = Quality.EI | Quality.IV
        else:
            elements[name] = SAMPLE[name]
    return InformationObject(address=address, elements=elements)


@pytest.mark.parametrize("type_id", sorted(ELEMENTS), ids=lambda t: TypeId(t).name)
@pytest.mark.parametrize("sequence", [False, True], ids=["SQ0", "SQ1"])
def test_every_type_round_trips(type_id: int, sequence: bool) -> None:
    objects = tuple(sample_object(type_id, 0xFFFFFE + i if not sequence else 70000 + i) for i in range(2))
    if not sequence:
        objects = (objects[0], sample_object(type_id, 1))
    asdu = Asdu(type_id=type_id, cause=20, negative=True, test=True, originator=7, common_address=0xFFFF,
                objects=objects, sequence=sequence)
    frame = IFrame(send_seq=32767, recv_seq=16384, asdu=asdu)
    octets = encode_apdu(frame)
    assert octets[1] == len(octets) - 2
    back = decode_apdu(octets)
    assert back == frame
    assert encode_apdu(back) == octets


def test_interrogation_octets() -> None:
    asdu = Asdu(type_id=TypeId.C_IC_NA_1, cause=6, common_address=1,
                objects=(InformationObject(address=0, elements={"qoi": 20}),))
    assert encode_apdu(IFrame(send_seq=1, recv_seq=2, asdu=asdu)).hex() == "680e0200040064010600010000000014"


def test_single_point_octets_and_quality() -> None:
    # M_SP_NA_1, SQ=0, 1 object, spontaneous, CA 1, IOA 1001, SPI on, IV.
    apdu = decode_apdu(bytes.fromhex("680e04000200" "01010300" "0100" "e90300" "81"))
    assert isinstance(apdu, IFrame) and apdu.send_seq == 2 and apdu.recv_seq == 1
    obj = apdu.asdu.objects[0]  # type: ignore[union-attr]
    assert (obj.address, obj.value, obj.quality) == (1001, True, Quality.IV)


def test_decoded_values_have_their_types() -> None:
    # bools stay bools (compiled too: True == 1, so equality alone would not see an int)
    sco = decode_asdu(bytes.fromhex("2d010600010089130081"))
    assert type(sco.objects[0].value) is bool and type(sco.objects[0].elements["select"]) is bool
    siq = decode_asdu(bytes.fromhex("0101030001000100000181"[:-2]))
    assert type(siq.objects[0].value) is bool
    assert type(decode_asdu(bytes.fromhex("2e010600010089130082")).objects[0].value) is int
    it = decode_asdu(bytes.fromhex("0f0125000100a10f00640000008f"))
    assert [type(it.objects[0].elements[k]) for k in ("carry", "adjusted", "invalid")] == [bool, bool, bool]


def test_float_and_time() -> None:
    octets = bytes.fromhex("6819" "00000000" "24010300" "0100" "b80b00" "0000c03f" "00" "e803" "1e" "0c"
                           "a1" "0b" "18")
    obj = decode_apdu(octets).asdu.objects[0]  # type: ignore[union-attr]
    assert obj.value == 1.5 and obj.time is not None
    assert obj.time.to_datetime().isoformat() == "2024-11-01T12:30:01"
    assert obj.time.weekday == 5


@pytest.mark.parametrize(("octets", "cls"), [
    (b"\x68\x04\x01\x00\x02\x00", SFrame), (b"\x68\x04\x07\x00\x00\x00", UFrame),
])
def test_s_and_u(octets: bytes, cls: type) -> None:
    apdu = decode_apdu(octets)
    assert isinstance(apdu, cls)
    assert encode_apdu(apdu) == octets


def test_u_functions() -> None:
    for f in UFunction:
        assert decode_apdu(encode_apdu(UFrame(function=f))) == UFrame(function=f)


@pytest.mark.parametrize(("hexstr", "path", "offset", "cls"), [
    ("", ("start",), 0, TruncatedError),
    ("69040000000000", ("start",), 0, DecodeError),
    ("6803000000", ("length",), 1, DecodeError),
    ("68fe" + "00" * 254, ("length",), 1, DecodeError),
    ("68040100", ("control",), 4, TruncatedError),
    ("680401000200ff", (), 6, TrailingDataError),
    ("680403000000", ("control", "function"), 2, DecodeError),  # U with no function bit
    ("68040f000000", ("control", "function"), 2, DecodeError),  # two functions at once
    ("680407010000", ("control",), 3, DecodeError),
    ("680405000000", ("control",), 2, DecodeError),  # S with reserved bits
    ("680401000300", ("control", "recv_seq"), 4, DecodeError),
    ("680500000000ff", ("length",), 1, DecodeError) if False else ("680601000000ffff", ("length",), 1,
                                                                     DecodeError),
    ("680400000000", ("asdu",), 6, TruncatedError),
    ("6806000001000101", ("control", "recv_seq"), 4, DecodeError),
    ("68080000000001010300", ("asdu", "data_unit_identifier"), 10, TruncatedError),
    # M_SP_NA_1 saying 2 objects, carrying 1: the second is cut short
    ("680e00000000" "01020300" "0100" "e90300" "01", ("asdu", "objects", 1), 16, TruncatedError),
    # ... and one with an octet left over
    ("680f00000000" "01010300" "0100" "e90300" "01" "00", ("asdu", "objects"), 16, TrailingDataError),
])
def test_errors_name_path_and_offset(hexstr: str, path: tuple[str | int, ...], offset: int,
                                     cls: type[DecodeError]) -> None:
    with pytest.raises(cls) as info:
        decode_apdu(bytes.fromhex(hexstr))
    assert info.value.protocol == "iec104"
    assert (info.value.path, info.value.offset) == (path, offset), str(info.value)


def test_an_empty_sequence_decodes_to_no_objects() -> None:
    assert decode_asdu(b"\x01\x80\x03\x00\x01\x00").objects == ()  # SQ=1 with 0 objects: no address


def test_unknown_type_id_keeps_its_objects() -> None:
    octets = bytes.fromhex("680f00000000" "fa820300" "0100" "0102030405")
    apdu = decode_apdu(octets)
    assert isinstance(apdu, IFrame) and isinstance(apdu.asdu, Asdu)
    assert (apdu.asdu.type_id, apdu.asdu.known, apdu.asdu.raw, apdu.asdu.raw_number, apdu.asdu.sequence) == (
        250, False, bytes.fromhex("0102030405"), 2, True)
    assert encode_apdu(apdu) == octets


def test_field_sizes_of_an_iec101_profile() -> None:
    sizes = FieldSizes(cause=1, common_address=1, ioa=2)
    asdu = Asdu(type_id=TypeId.M_ME_NB_1, cause=3, common_address=5,
                objects=(InformationObject(address=300, elements={"value": -2, "quality": Quality(0)}),))
    octets = encode_asdu(asdu, sizes=sizes)
    assert octets.hex() == "0b010305" "2c01" "feff" "00"
    assert decode_asdu(octets, sizes=sizes) == asdu
    with pytest.raises(EncodeError, match="originator"):
        encode_asdu(Asdu(type_id=1, cause=3, common_address=1, originator=3), sizes=sizes)
    with pytest.raises(ValueError, match="field sizes"):
        FieldSizes(cause=3)


@pytest.mark.parametrize(("asdu", "path"), [
    (Asdu(type_id=1, cause=64, common_address=1), ("asdu", "cause")),
    (Asdu(type_id=1, cause=3, common_address=0x10000), ("asdu", "common_address")),
    (Asdu(type_id=1, cause=3, common_address=1,
          objects=(InformationObject(address=1, elements={"value": True}),)), ("asdu", "objects", 0)),
    (Asdu(type_id=2, cause=3, common_address=1, objects=(InformationObject(address=1, elements={
        "value": True, "quality": 0, "time": Cp56Time2a(milliseconds=0, minute=0, hour=0, day=1, month=1,
                                                        year=0)}),)), ("asdu", "objects", 0)),
    (Asdu(type_id=9, cause=3, common_address=1,
          objects=(InformationObject(address=1, elements={"value": 0.3, "quality": 0}),)),
     ("asdu", "objects", 0)),
    (Asdu(type_id=1, cause=3, common_address=1, sequence=True,
          objects=(InformationObject(address=1, elements={"value": True, "quality": 0}),
                   InformationObject(address=3, elements={"value": True, "quality": 0}))),
     ("asdu", "objects", 1, "address")),
    (Asdu(type_id=1, cause=3, common_address=1,
          objects=(InformationObject(address=1 << 24, elements={"value": True, "quality": 0}),)),
     ("asdu", "objects", 0, "address")),
])
def test_encode_refuses_what_does_not_fit(asdu: Asdu, path: tuple[str | int, ...]) -> None:
    with pytest.raises(EncodeError) as info:
        encode_apdu(IFrame(send_seq=0, recv_seq=0, asdu=asdu))
    assert info.value.path == path


def test_encode_refuses_bad_sequence_numbers_and_long_asdus() -> None:
    with pytest.raises(EncodeError, match="send_seq"):
        encode_apdu(IFrame(send_seq=32768, recv_seq=0, asdu=b"\x01"))
    with pytest.raises(EncodeError, match="recv_seq"):
        encode_apdu(SFrame(recv_seq=-1))
    with pytest.raises(EncodeError, match="249"):
        encode_apdu(IFrame(send_seq=0, recv_seq=0, asdu=bytes(250)))


def test_the_framer_splits_and_joins() -> None:
    frames = [encode_apdu(UFrame(function=UFunction.STARTDT_ACT)), encode_apdu(SFrame(recv_seq=5)),
              bytes.fromhex("680e0200040064010600010000000014")]
    stream = b"".join(frames)
    framer = ApduFramer()
    got = []
    for i in range(len(stream)):
        framer.feed(stream[i:i + 1])
        while (frame := framer.next_frame()) is not NEED_DATA:
            got.append(frame)
    assert got == frames
    # garbage, then a start claiming 2 octets (one malformed APDU, as Wireshark counts it), then an S frame
    framer.feed(b"\x00\x00\x68\x02\x02\x02\x68\x04\x01\x00\x00\x00")
    with pytest.raises(DecodeError, match="2 octets before"):
        framer.next_frame()
    with pytest.raises(DecodeError, match=r"length 2 .* the 4 octets it delimits dropped"):
        framer.next_frame()
    assert framer.next_frame() == b"\x68\x04\x01\x00\x00\x00"


def test_codec_entry() -> None:
    from wireproof import codecs

    c = codecs.get("iec104")
    assert c.decode(c.encode(SFrame(recv_seq=3))) == SFrame(recv_seq=3)
    assert apdu_codec().name == "iec104"
