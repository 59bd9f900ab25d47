"""The ``dnp3-master`` conformance suite: wireproof plays the outstation and judges a DNP3 master.

Run by ``wireproof certify dnp3-master --command "CMD {url}"`` (wireproof
starts the master under test for each clause) or ``--bind HOST:PORT`` (it
waits there for a master started by hand); without either, the built-in
reference master. Each clause is one master session against the scripted
test outstation of :mod:`._station`, its behaviour set by the clause
(IEEE 1815-2012 clauses cited in each marker; the section numbers are
those of the 2012 edition as the project's DNP3 modules cite them, the
words paraphrased).

The clauses (level ``should`` where a master is expected to do it but may
be configured not to; the rule in one line is each marker's title):

========== ====== ========================================
clause     level  IEEE 1815-2012
========== ====== ========================================
DNP3-M-001 should 4.4.1
DNP3-M-002 should 4.4.1, 11.9.27
DNP3-M-003 should 4.6
DNP3-M-004 should 4.6
DNP3-M-005 shall  4.2.2.7.1, 4.4.2
DNP3-M-006 should 4.2.2.7.1
DNP3-M-007 should 4.2.2.7.1, 4.4.14, 4.4.15
DNP3-M-008 shall  4.4.2, 4.4.15
DNP3-M-009 should 4.4.14, 4.4.15
DNP3-M-010 shall  4.2.2.4.3, 4.5.1
DNP3-M-011 shall  4.5, 4.2.2.4
DNP3-M-012 shall  4.2.2.4.3
DNP3-M-013 shall  4.2.2.4.3
DNP3-M-014 shall  4.2.2.4.1, 4.2.2.4.2, 4.2.2.4.5
DNP3-M-015 shall  4.2.2.4.4, 4.6
DNP3-M-016 should 4.2.2.4.4, 4.6
DNP3-M-017 should 4.2.2.7.1
DNP3-M-018 shall  4.2.2.4.5
DNP3-M-019 shall  4.2.2.4.5
DNP3-M-020 should 4.2.2.4.5, 4.4.1
DNP3-M-021 shall  4.2.2.4.1, 4.2.2.4.4
DNP3-M-022 shall  9.2.4.1.3.1, 9.2.4.1.4
DNP3-M-023 shall  8.2.1, 8.2.2
DNP3-M-024 shall  9.2.4.1.3.6
DNP3-M-025 shall  9.2.4.1.3.3, 9.2.4.1.3.4
DNP3-M-026 shall  4.4.3, 4.4.4
DNP3-M-027 shall  4.2.2.4.4, 4.2.2.4.3
DNP3-M-028 should 4.2.2.7.2
DNP3-M-029 shall  9.2.4.1.4
DNP3-M-030 shall  4.4.2
DNP3-M-031 shall  4.2.2.4.4, 4.6
========== ====== ========================================
"""
