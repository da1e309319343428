"""Fuzzing the API with schemathesis: hooks (scalars, checks) and the routes' description."""
