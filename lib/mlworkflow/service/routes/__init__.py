"""The service's routes, one module per group: info (health, model), predict, feedback, invocations."""
