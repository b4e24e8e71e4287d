# Security: what encryption at rest costs. Included by the top-level Makefile.
#
#   make bench-sealing              seal/open per value (no servers)
#   make bench-sealing-stack        also a Redis read of a session entry, plain and sealed

.PHONY: bench-sealing bench-sealing-stack

bench-sealing: install ## Time AES-GCM seal/open of the values the gateway keeps in Redis
	$(PY) bench/sealing_bench.py

bench-sealing-stack: install ## bench-sealing plus plain vs sealed Redis reads on the local stack
	$(STACK) up redis sentinels
	$(PY) bench/sealing_bench.py --redis
