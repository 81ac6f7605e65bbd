"""qldb-dr: multi-region disaster recovery for Amazon QLDB ledgers."""

__version__ = "0.1.0"
