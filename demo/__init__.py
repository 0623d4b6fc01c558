"""A realistic demo data set for walk-throughs, the console and tests (`civic-ledger demo`).

Only the command line and the tests import this package: the ledger itself never depends on it.
"""
