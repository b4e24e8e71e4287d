"""The HTTP API and the app that serves it: routers, dependencies, middleware, the runtime."""
