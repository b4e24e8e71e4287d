# Domain benchmarks (auth hot path). Included by the top-level Makefile.
#
#   make bench-auth                 embedded defaults (SQLite)
#   make bench-auth-stack           against the local stack (PostgreSQL, Redis + Sentinels)
#   BENCH_ARGS="--seconds 20 --connections 64" to change the load

.PHONY: bench-auth bench-auth-stack
BENCH_ARGS ?=

bench-auth: install ## Benchmark session validation (GET /api/auth/me) and argon2 logins, SQLite
	env -u DATABASE_URL -u REDIS_SENTINELS -u REDIS_HOST -u REDIS_URL -u KAFKA_BROKERS -u CACHE_DRIVER \
	  $(PY) bench/auth_bench.py $(BENCH_ARGS)

bench-auth-stack: install ## The same against the local stack (make services-up first)
	eval "$$($(STACK) env)"; unset KAFKA_BROKERS; $(PY) bench/auth_bench.py $(BENCH_ARGS)
