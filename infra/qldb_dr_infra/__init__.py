"""The CDK app's constructs, grouped by component: the vault (bucket, key, replication), the
functions and workflows (from `qldb_dr.workflows.manifest`), the schedules and rules, the
alarms, and the two stacks that put them in the primary and the DR region."""
