"""``wireproof decode iec104 HEX`` and ``iec104-asdu``: the tree, the JSON, and a bad frame's error."""

from __future__ import annotations

import json

import pytest

from wireproof.harness.cli import main


def test_decode_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "iec104", "681604000200018914000d911a2700d0808080c080808080", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["type"], doc["send_seq"], doc["recv_seq"]) == ("IFrame", 2, 1)
    asdu = doc["asdu"]
    assert (asdu["type_id"], asdu["cause"], asdu["sequence"], asdu["common_address"]) == (
        "M_SP_NA_1", "INTERROGATED_BY_STATION", True, 37133)
    assert [o["address"] for o in asdu["objects"]] == list(range(10010, 10019))
    assert asdu["objects"][0]["elements"] == {"value": False, "quality": "BL|NT|IV"}


def test_decode_tree(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "iec104-asdu", "640106000d9100000014"]) == 0
    out = capsys.readouterr().out
    assert "C_IC_NA_1" in out and "ACTIVATION" in out and "qoi" in out


def test_a_bad_frame_names_path_and_offset(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "iec104", "68040f000000", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["error"]["path"] == ["control", "function"] and doc["error"]["offset"] == 2
