# Social benchmarks (conversation reads, WebSocket delivery). Included by the top-level Makefile.
#
#   make bench-social               embedded defaults (SQLite, in-process fan-out, one instance)
#   make bench-social-stack         local stack: PostgreSQL, Redis + Sentinels, two instances
#   BENCH_ARGS="--seconds 20 --connections 64 --messages 500" to change the load

.PHONY: bench-social bench-social-stack

bench-social: install ## Benchmark conversation reads and message -> socket latency, SQLite
	env -u DATABASE_URL -u REDIS_SENTINELS -u REDIS_HOST -u REDIS_URL -u KAFKA_BROKERS -u CACHE_DRIVER \
	  $(PY) bench/social_bench.py $(BENCH_ARGS)

bench-social-stack: install ## The same on the local stack, two instances sharing Redis
	eval "$$($(STACK) env)"; unset KAFKA_BROKERS; $(PY) bench/social_bench.py $(BENCH_ARGS)
