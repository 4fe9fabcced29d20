"""Test helpers: in-memory fakes behind the real interfaces, sample data, waiting with deadlines. Production code never imports this package."""
