"""The toy-server suite: two clauses, one parameter with an alias."""
