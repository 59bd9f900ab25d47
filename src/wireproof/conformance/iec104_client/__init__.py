"""The ``iec104-client`` conformance suite: wireproof plays the controlled station and judges a
controlling station (an IEC 104 client).

Run by ``wireproof certify iec104-client --command "CMD {host} {port}"`` (wireproof starts the client
under test for each clause) or ``--bind HOST:PORT`` (it waits there for a client started by hand);
without either, the built-in reference client (``wireproof simulate iec104-client``). Each clause is
one client session against the scripted station of :mod:`._station`, its behaviour set by the clause,
organised by the IEC TS 60870-5-604 topics that apply to a controlling station (APCI start-up,
numbering, acknowledgement, test frames, the timers; the application functions' request forms and
how the client takes confirmations). The citations name IEC 60870-5-104 clause 5 and IEC
60870-5-101 7.2-7.4, paraphrased.
"""
