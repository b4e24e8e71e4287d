# Breaker benchmarks and fault runs. Included by the top-level Makefile.
#
#   make bench-breaker   cost of a call through a closed breaker; latency of the fast 503
#   make bench-faults    the fault tests against the real stack, printing their figures
#                        (503 latency with PostgreSQL down, time to serve again, Redis failover
#                        write recovery, Kafka publish recovery). Set SNAPROOM_STACK_PORT_OFFSET
#                        and SNAPROOM_STACK_DIR to run beside other stacks.

.PHONY: bench-breaker bench-faults

bench-breaker: install ## Breaker overhead per call and fast-503 latency (no servers)
	$(PY) -m tests.support.bench_resilience

bench-faults: install ## Fault tests of the breakers on the real stack, with their figures
	$(VENV)/bin/pytest -s -m faults tests/faults/resilience/test_breaker_faults.py $(PYTEST_ARGS)
