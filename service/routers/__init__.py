"""Thin HTTP. Each endpoint parses the request, calls one service function and returns a schema
(service/schemas); transactions, retries, follow-up jobs and every rule live in the services.
No router imports the ORM or the storage package, and every JSON endpoint has a response model."""
