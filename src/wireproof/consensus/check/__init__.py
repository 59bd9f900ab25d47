"""Checkers for consensus runs: safety invariants over node views, histories and linearizability."""
