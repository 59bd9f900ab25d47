"""Conformance suite ``modbus-server``: a Modbus TCP server, clause by clause.

Normative references: MODBUS Application Protocol Specification V1.1b3
("MB-AP"), MODBUS Messaging on TCP/IP Implementation Guide V1.0b ("MB-TCP"),
and the Modbus Organization's MODBUS/TCP conformance test specification,
whose test areas (function code bounds, exceptions, MBAP checks, stream
handling) the clauses follow.

Run it with ``wireproof certify modbus-server [--target tcp://HOST:PORT]
[--profile FILE] [--unit N]``; without a target the built-in reference server
(:mod:`wireproof.harness.simulators.modbus_server`) is started on loopback.
The device profile (:mod:`.profile`, ``default-profile.toml``) decides which
clauses apply. Suite options (``--option KEY=VALUE``): ``response_timeout``
(seconds; default the profile's), ``silence`` (how long a clause that
expects no answer listens; default the response timeout) and ``attempts`` (how often a clause
whose outcome can vary between runs probes, each on a new connection;
default 5: a device right only sometimes fails with the count).

Fairness (:mod:`wireproof.harness.clauses`): a step a clause needs before it
can test its rule (reading the value it will overwrite) that the device makes
fail ends the clause ``inconclusive`` naming the step, never a ``fail`` of a
rule that was not tested; a clause needing more connections at once than the
profile's ``max_connections`` is not applicable.

Clause ids are stable: ``MB-AP-NNN`` for application-layer rules, ``MB-TCP-NNN``
for the TCP mapping. New clauses get new numbers; numbers are never reused.
Where several clauses check one rule on different function codes or tables,
they are rows of one parametrized test (``_checks.clause``): each row keeps
its clause id as test id (``-k MB-AP-003``), its level, its own verdict and
its one-line title in the reports.

Each clause's marker ``cites`` the specification sentence it rests on: the
document and section, then the words quoted (a state diagram's condition text
where the rule is a diagram's; the diagrams' "≤" is written "<="). The table's
cites column lists those sections. A clause is "shall" only where its cited
sentence is a requirement on the server; a robustness rule that no sentence
requires is "should", and its docstring says why.

The suite does no I/O of its own. Its connections are the harness's
blocking Modbus client (:mod:`wireproof.harness.modbus_client`: bytes sent
exactly as given, answers read whole through the codec's MBAP framer),
wrapped by :mod:`._connection`, which builds the ADUs a clause sends and
turns what the device failed to do (no answer, a closed connection) into a
``fail`` verdict; the default profile is read by :func:`wireproof.harness.fixtures.read_packaged_text`.

============  ======  ============================  ==============================================
clause        level   cites                         rule
============  ======  ============================  ==============================================
MB-AP-001     shall   MB-AP 6.1                     FC 01 quantity 0 / 2001 -> exception 03
MB-AP-002     shall   MB-AP 6.2                     FC 02 quantity 0 / 2001 -> exception 03
MB-AP-003     shall   MB-AP 6.3                     FC 03 quantity 0 / 126 -> exception 03
MB-AP-004     shall   MB-AP 6.4                     FC 04 quantity 0 / 126 -> exception 03
MB-AP-005     shall   MB-AP 6.1                     FC 01 past the coils -> exception 02
MB-AP-006     shall   MB-AP 6.2                     FC 02 past the discrete inputs -> exception 02
MB-AP-007     shall   MB-AP 6.3                     FC 03 past the holding registers -> exception 02
MB-AP-008     shall   MB-AP 6.4                     FC 04 past the input registers -> exception 02
MB-AP-009     shall   MB-AP 6.1, 6.2                bit reads: byte count ceil(N/8), zero padding
MB-AP-010     shall   MB-AP 6.3, 6.4                register reads: byte count 2N, N registers
MB-AP-011     shall   MB-AP 6.5                     FC 05 value not 0x0000/0xFF00 -> exception 03
MB-AP-012     shall   MB-AP 6.5                     FC 05 response echoes; read-back agrees
MB-AP-013     shall   MB-AP 6.6                     FC 06 response echoes; read-back agrees
MB-AP-014     shall   MB-AP 6.6                     FC 06 past the holding registers -> exception 02
MB-AP-015     shall   MB-AP 6.11                    FC 15 quantity 0 / 1969 -> exception 03
MB-AP-016     shall   MB-AP 6.11                    FC 15 response: address, quantity; read-back
MB-AP-017     shall   MB-AP 6.12                    FC 16 quantity 0 / 124 -> exception 03
MB-AP-018     shall   MB-AP 6.12                    FC 16 response: address, quantity; read-back
MB-AP-019     shall   MB-AP 6.12                    FC 16 past the holding registers -> exception 02
MB-AP-020     shall   MB-AP 6.17                    FC 23 read 0/126, write 0/122 -> exception 03
MB-AP-021     shall   MB-AP 6.17                    FC 23 writes before it reads
MB-AP-022     shall   MB-AP 6.8                     FC 08 sub-function 00 echoes the request
MB-AP-023     shall   MB-AP 6.21                    FC 43/14 basic objects, conformity level
MB-AP-024     shall   MB-AP 6; MB-TCP 4.4.2.2       unsupported function code -> exception 01
MB-AP-025     shall   MB-AP 7; MB-TCP 3.1.3         exception PDU: FC | 0x80, one code byte
MB-AP-026     shall   MB-AP 6.12                    FC 16 byte count != 2 x quantity -> exc. 03
MB-TCP-001    shall   MB-TCP 3.1.3                  transaction id copied (0x0000 .. 0xFFFF)
MB-TCP-002    shall   MB-TCP 3.1.3                  response protocol id 0, exact length
MB-TCP-003    shall   MB-TCP 3.1.3                  unit id copied
MB-TCP-004    should  MB-TCP 4.4.1.2                unit id 0xFF addresses a direct device
MB-TCP-005    shall   MB-TCP 4.4.2.2                protocol id != 0: not answered
MB-TCP-006    should  MB-TCP 3.1.3                  MBAP length too long: not answered as valid
MB-TCP-007    shall   MB-TCP 3.1.2, 3.1.3           MBAP length too short: not answered as valid
MB-TCP-008    shall   MB-TCP 3.1.2                  one ADU split over 4 TCP segments (N attempts)
MB-TCP-009    should  MB-TCP 3.1.2, 4.2.1           two ADUs in one TCP segment (N attempts)
MB-TCP-010    shall   MB-TCP 4.2.1, 4.4.2.2         pipelined requests, paired by tid (N attempts)
MB-TCP-011    shall   MB-TCP 4.2.1.2, 4.4.2.2       malformed ADUs do not stop the server
MB-TCP-012    should  MB-TCP 4.4.1.4                answers within the response timeout
MB-TCP-013    shall   MB-TCP 4.2.1.2                many transactions on one connection
MB-TCP-014    should  MB-TCP 4.2.1.1                two connections served at once
MB-TCP-015    shall   MB-TCP 4.4.2.2                after protocol id 1: next request answered
MB-TCP-016    shall   MB-TCP 3.1.2, 3.1.3           after length too long: next request answered
MB-TCP-017    shall   MB-TCP 3.1.2, 3.1.3           after length too short: next request answered
============  ======  ============================  ==============================================
"""

from __future__ import annotations

__all__: list[str] = []
