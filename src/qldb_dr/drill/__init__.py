"""The DR drill: a restore into a scratch target that measures RTO and RPO and verifies.

* `application`: a vehicle registry writing to the source ledger, which keeps what was
  acknowledged and can say what any prefix of it left in the ledger;
* `accounting`: which acknowledged writes a restore lost, and the RPO that makes;
* `core`: restore the latest recovery point into a target, follow it, record the drill's
  report in the vault, delete the scratch target — the part a scheduled drill on AWS runs;
* `failover`: the whole drill on the local endpoint — the application, backups every RPO,
  the primary region lost, the failover restore, and the checks.
"""
