"""The hostile-input tier (``tox -e hostile``; also part of the default run).

Every case here is something a security tester did to a wireproof command,
reader, checker or reference device: truncated, bit-flipped and crafted
files, hostile targets, abusive clients. The rule each test holds: a typed
error or a finding naming the protocol, field and offset, the documented exit
code (:mod:`wireproof.harness.exitcodes`), bounded memory and time, and never
a false verdict. Every protocol that lands adds its cases here.
"""
