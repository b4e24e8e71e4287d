# Cache targets. Included by the top-level Makefile (-include deploy/make/*.mk).
#
#   make bench-cache [BENCH_CACHE_ARGS="--seconds 20 --connections 64"]
#       starts the local stack if needed (same SNAPROOM_STACK_* variables as the tests), seeds
#       10,000 users, serves GET /api/users/{id} on one uvicorn worker pinned to core 0, loads
#       it with wrk from core 1 under a Zipf(1.1) key mix, and prints req/s, p50/p99, hit ratio,
#       DB queries per 1,000 requests (for a 30 s start phase on the empty cache, then, after
#       every user was read once and 40 s of settling load, for the measured 20 s) and the
#       cross-instance invalidation delay next to a bare redis-py subscriber's.

BENCH_CACHE_ARGS ?=

.PHONY: bench-cache

bench-cache: install ## Benchmark the cached GET /api/users/{id} (real Redis + PostgreSQL, wrk)
	$(STACK) up postgres redis-master redis-replica sentinel-1 sentinel-2 sentinel-3
	set -a; eval "$$($(STACK) env | sed 's/^export //')"; set +a; \
	  LOG_LEVEL=warning $(PY) bench/cache_bench.py run --cold $(BENCH_CACHE_ARGS)

#   make bench-vs-express [BENCH_VS_EXPRESS_ARGS="--seconds 15 --warmup 20 --connections 64"]
#       the gateway against its Express 5 + ioredis peer (bench/peers/express, npm ci on first
#       use), same bytes, each alone on core 0 while the other is paused: anonymous profile,
#       /api/auth/me, a profile read by a signed-in viewer, a conversation's newest page, and
#       the 1-connection p50. Prints the table and writes bench/results/vs-express-*.json.

BENCH_VS_EXPRESS_ARGS ?=

.PHONY: bench-vs-express

bench-vs-express: install ## Gateway vs Express 5 + ioredis, signed-in and anonymous reads (wrk)
	@command -v wrk >/dev/null || apt-get install -y --no-install-recommends wrk
	@command -v npm >/dev/null || apt-get install -y --no-install-recommends npm
	$(STACK) up postgres redis-master redis-replica sentinel-1 sentinel-2 sentinel-3
	set -a; eval "$$($(STACK) env | sed 's/^export //')"; set +a; \
	  LOG_LEVEL=warning $(PY) bench/vs_express.py $(BENCH_VS_EXPRESS_ARGS)
