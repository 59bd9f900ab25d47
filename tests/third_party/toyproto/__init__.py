"""A tiny third-party protocol, written as an outside package would write one.

Wire format of a TOY message: ``b"T"``, a key byte, a length byte, then that
many payload bytes. A client sends requests; the server answers each with
the same key and the payload upper-cased. The package is one descriptor
(:mod:`.protocol`) and the parts it names; wireproof finds it through one
entry point (tests/test_third_party_protocol.py installs it as a
distribution on a temporary path) and no wireproof module is edited.
"""
