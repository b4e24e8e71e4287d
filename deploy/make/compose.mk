# Full-stack targets (compose.yaml). Included by the top-level Makefile:
#
#   include deploy/make/compose.mk
#
#   make up                       build the gateway image and start the stack (creates .env on first use)
#   make down [VOLUMES=1]         stop and remove the containers (VOLUMES=1: and the data volumes)
#   make logs [SERVICE=gateway]   follow the logs of one service or all
#   make ps                       containers with their health
#   make health-check [BASE_URL=http://127.0.0.1:8000]
#                                 every /api/health* endpoint as a table; fails if any is unhealthy.
#                                 Also works against the no-Docker local stack or a bare `serve`.
#   make kafka-topics [TOPIC=user-events]   list the topics, or describe one
#   make redis-cli [REDIS_NODE=redis-replica|redis-sentinel-1|...] [ARGS="info replication"]

# The Compose v2 plugin when the Docker CLI has it, else the standalone docker-compose (v1).
COMPOSE ?= $(shell if docker compose version >/dev/null 2>&1; then echo "docker compose"; else echo docker-compose; fi)
COMPOSE_FILE_PATH ?= compose.yaml
COMPOSE_CMD = $(COMPOSE) -f $(COMPOSE_FILE_PATH)
HEALTH_PYTHON ?= python3
BASE_URL ?= http://127.0.0.1:8000
HEALTH_TIMEOUT ?= 5
SERVICE ?=
TOPIC ?=
REDIS_NODE ?= redis-master
ARGS ?=

.PHONY: up down logs ps health-check kafka-topics redis-cli

.env:
	cp .env.example .env
	@echo "Created .env from .env.example: change the passwords and SECRET_KEY before using this stack anywhere but your machine."

up: .env
	$(COMPOSE_CMD) up -d --build
	@echo "Gateway http://localhost:8000/api/  Kafka UI http://localhost:8080  Redis Commander http://localhost:8081"
	@echo "The gateway becomes healthy after migrate and topics finish: watch 'make ps', then 'make health-check'."

down:
	$(COMPOSE_CMD) down --remove-orphans $(if $(VOLUMES),--volumes,)

logs:
	$(COMPOSE_CMD) logs -f --tail=200 $(SERVICE)

ps:
	$(COMPOSE_CMD) ps

health-check:
	$(HEALTH_PYTHON) deploy/health_check.py --base-url $(BASE_URL) --timeout $(HEALTH_TIMEOUT)

# Runs the CLI inside kafka-1 over the internal listener.
kafka-topics:
	$(COMPOSE_CMD) exec kafka-1 /opt/kafka/bin/kafka-topics.sh --bootstrap-server kafka-1:9092 \
		$(if $(TOPIC),--describe --topic $(TOPIC),--list)

# REDISCLI_AUTH keeps the password off the command line; the variable is read inside the container.
REDIS_NODE_PORTS = redis-master:6379 redis-replica:6380 redis-sentinel-1:26379 redis-sentinel-2:26380 redis-sentinel-3:26381
REDIS_NODE_PORT = $(or $(word 2,$(subst :, ,$(filter $(REDIS_NODE):%,$(REDIS_NODE_PORTS)))),6379)
REDIS_NODE_SECRET = $(if $(findstring sentinel,$(REDIS_NODE)),REDIS_SENTINEL_PASSWORD,REDIS_PASSWORD)

redis-cli:
	$(COMPOSE_CMD) exec $(REDIS_NODE) sh -c 'REDISCLI_AUTH="$$$(REDIS_NODE_SECRET)" exec redis-cli -p $(REDIS_NODE_PORT) "$$@"' redis-cli $(ARGS)
