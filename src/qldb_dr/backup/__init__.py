"""The Backup workflow: plan a contiguous export window, export, verify and anchor it, record it.

settings.py   what a backup is asked for, resolved once by its first step
model.py      what its steps hand each other: the window's plan, the verification
steps.py      the steps, one per Task state of statemachines/backup.asl.json
"""

from qldb_dr.backup.model import Plan, Verification
from qldb_dr.backup.settings import Settings
from qldb_dr.backup.steps import export_status, plan_window, record, start_export, verify_export

__all__ = [
    "Plan",
    "Settings",
    "Verification",
    "export_status",
    "plan_window",
    "record",
    "start_export",
    "verify_export",
]
