"""Which acknowledged writes a failover lost, and the RPO that makes.

The restore holds the journal up to the last block of the recovery point it restored, whose
window ends at `window_end` (block timestamps, the ledger's clock — on the local endpoint the
machine's, as the application's). Of the application's acknowledged transactions:

* one acknowledged before `window_end` committed inside the window: it must be restored;
* one started at or after `window_end` committed after it: it must be lost;
* one that straddles it may be either — the journal says which;
* and, one writer committing in order, the restored ones are a prefix of the acknowledged.

RPO achieved: the oldest acknowledged write missing from the restore — how long before the
loss it was acknowledged (the span of acknowledged data lost) — and how many were lost.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from qldb_dr.checks import Check
from qldb_dr.drill.application import Acknowledged
from qldb_dr.encoding import iso


@dataclass(frozen=True, slots=True)
class Accounting:
    loss_at: datetime
    window_end: datetime
    acknowledged: int
    restored: tuple[Acknowledged, ...]
    lost: tuple[Acknowledged, ...]

    @property
    def rpo_seconds(self) -> float:
        """The oldest lost write's age at the loss (0: nothing acknowledged was lost)."""
        if not self.lost:
            return 0.0
        return max(0.0, (self.loss_at - min(a.acknowledged for a in self.lost)).total_seconds())

    def to_json(self) -> dict[str, Any]:
        def brief(entry: Acknowledged | None) -> dict[str, Any] | None:
            return None if entry is None else {**entry.to_json(), "ageAtLossSeconds": self._age(entry)}

        return {
            "seconds": round(self.rpo_seconds, 3),
            "acknowledgedTransactions": self.acknowledged,
            "restoredTransactions": len(self.restored),
            "lostTransactions": len(self.lost),
            "windowEnd": iso(self.window_end),
            "lossAt": iso(self.loss_at),
            "firstLost": brief(self.lost[0] if self.lost else None),
            "lastRestored": brief(self.restored[-1] if self.restored else None),
        }

    def _age(self, entry: Acknowledged) -> float:
        return round((self.loss_at - entry.acknowledged).total_seconds(), 3)


def account(
    log: list[Acknowledged], restored_ids: Collection[str], window_end: datetime, loss_at: datetime
) -> tuple[Accounting, Check]:
    """The accounting of a failover, and the `lost-writes` check that holds it to the window."""
    check = Check("lost-writes", "the acknowledged writes missing from the restore are exactly those after its window")
    restored = tuple(a for a in log if a.transaction_id in restored_ids)
    lost = tuple(a for a in log if a.transaction_id not in restored_ids)
    for entry in lost:
        if entry.acknowledged < window_end:
            check.fail(
                f"transaction {entry.index} ({entry.kind}, {entry.transaction_id}) was acknowledged inside the "
                "restored window, yet the restore does not hold it",
                expected=f"restored (acknowledged {iso(entry.acknowledged)}, before the window's end)",
                found="lost",
            )
        else:
            check.passed()
    for entry in restored:
        if entry.started >= window_end:
            check.fail(
                f"transaction {entry.index} ({entry.kind}, {entry.transaction_id}) started after the restored window "
                "ended, yet the restore holds it",
                expected=f"lost (started {iso(entry.started)}, after the window's end)",
                found="restored",
            )
        else:
            check.passed()
    if restored and restored[-1].index != len(restored) - 1:
        gap = next(i for i, entry in enumerate(restored) if entry.index != i)
        check.fail(
            f"transaction {gap} is lost but later ones are restored: one writer commits in order, so a restore "
            "holds a prefix of what it acknowledged",
            expected=f"transactions 0-{len(restored) - 1}",
            found=f"{len(restored)} transactions up to {restored[-1].index}",
        )
    accounting = Accounting(loss_at, window_end, len(log), restored, lost)
    check.summary = (
        f"{len(log):,} acknowledged: {len(restored):,} restored, {len(lost):,} lost "
        f"(the window ended {iso(window_end)}; the region was lost at {iso(loss_at)})"
    )
    return accounting, check


def rpo_check(accounting: Accounting, budget_seconds: float) -> Check:
    """The RPO achieved against the drill's budget (backup interval + settle delay + 10 s): over
    it is a WARNING — the backups took longer than they should — not a wrong restore."""
    check = Check("rpo", "the RPO achieved is within the backup interval + settle delay + 10 s")
    seconds = accounting.rpo_seconds
    check.summary = f"{seconds:.1f} s of acknowledged writes lost ({len(accounting.lost):,} transactions)"
    if seconds > budget_seconds:
        check.warn(
            "the oldest lost write is older than the budget: a backup ran late or slow",
            expected=f"≤ {budget_seconds:.1f} s",
            found=f"{seconds:.1f} s",
        )
    else:
        check.passed()
    return check
