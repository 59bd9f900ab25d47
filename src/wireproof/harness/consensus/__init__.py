"""Real-mode consensus: wireproof nodes over TCP, the Maelstrom adapter, and external subjects.

Nothing is imported here on purpose: each module pulls in what it needs
(kazoo for ZooKeeper, msgpack for the wire), so importing one never
requires the others' optional dependencies.
"""
