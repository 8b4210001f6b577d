"""Test support shipped with the package: tiny models of every registered architecture and the fuzzer
that feeds every decoder damaged streams (used by the test suite and ``benchmarks/``)."""
