"""The ``dnp3-master`` conformance suite: wireproof plays the outstation and judges a DNP3 master.

Run by ``wireproof certify dnp3-master --command "CMD {url}"`` (wireproof
starts the master under test for each clause) or ``--bind HOST:PORT`` (it
waits there for a master started by hand); without either, the built-in
reference master. Each clause is one master session against the scripted
test outstation of :mod:`._station`, its behaviour set by the clause
(IEEE 1815-2012 clauses cited in each marker).
"""
