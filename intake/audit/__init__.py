"""The audit log: an append-only, hash-chained record of every security-relevant act.

It owns the chain (`chain`: appending with `db_record`, verifying, the guarding triggers and
the anchors outside the database), the Chinese names of the actions (`labels`) and the
searchable listing and CSV export that the audit page uses (`trail`).
"""

from intake.audit.chain import db_record
from intake.audit.labels import ACTION_LABELS, action_label

__all__ = ["ACTION_LABELS", "action_label", "db_record"]
