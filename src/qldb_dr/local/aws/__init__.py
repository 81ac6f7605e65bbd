"""The AWS services of the local endpoint other than QLDB: moto, and what qldb-dr adds to it."""
