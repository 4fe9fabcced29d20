"""Tracing, JSON logs and the redaction that keeps personal data out of both."""
