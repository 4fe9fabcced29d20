"""The document store: PyMongo's async client, its fake's interface, transient errors. The only part of kit that imports pymongo."""
