"""The audit trail: one record per request, to the log and optionally to the audit topic."""
