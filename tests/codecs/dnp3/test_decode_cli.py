"""``wireproof decode dnp3 HEX --json`` and ``decode dnp3-app``: the codecs through the command line."""

from __future__ import annotations

import json

import pytest

from wireproof import codecs
from wireproof.harness.cli import main
from wireproof.harness.exitcodes import FAIL, OK


def test_both_codecs_are_registered_by_the_descriptor() -> None:
    assert {"dnp3", "dnp3-app"} <= set(codecs.names())
    assert codecs.directions("dnp3") == () and codecs.directions("dnp3-app") == ()


def test_decode_a_link_frame_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "dnp3", "05641ac404000300c2e6d2c3030c012801009f86030164000000ec416400000000005b",
                 "--json"]) == OK
    out = json.loads(capsys.readouterr().out)
    assert out["type"] == "LinkFrame" and out["function"] == "UNCONFIRMED_USER_DATA"
    app = out["application"]
    assert (app["function"], app["seq"]) == ("SELECT", 3)
    (header,) = app["objects"]
    assert (header["group"], header["variation"], header["qualifier"]) == (12, 1, 0x28)
    assert header["points"][0]["values"] == {"control_code": 3, "count": 1, "on_time": 100, "off_time": 100,
                                             "status": 0}


def test_a_crc_error_names_block_and_offset(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "dnp3", "056411c40a0001000615c0c0153c02063c03063c04061a56", "--json"]) == FAIL
    err = json.loads(capsys.readouterr().out)["error"]
    assert err == {"type": "ChecksumError", "protocol": "dnp3", "path": ["link", "block", 0, "crc"],
                   "offset": 22, "reason": err["reason"]}
    assert "block 0" in err["reason"]


def test_decode_an_application_fragment(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "dnp3-app", "c0810000630100000001"]) == FAIL
    err = capsys.readouterr().err
    assert "objects.0.variation" in err and "group 99 variation 1" in err and "offset: 5" in err
