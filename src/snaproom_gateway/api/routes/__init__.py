"""The routers of the domains: one module per domain, mounted by the app."""
