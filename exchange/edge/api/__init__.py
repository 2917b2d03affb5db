"""The HTTP edge: routes, dependencies, schemas; domain refusals become status codes here."""
