# A platform team's policy, in its own file so that CODEOWNERS can give it
# to them.
policy "platform" {
  description = "Guardrails of the data platform team"

  max_records_skipped  = 1000
  max_records_replayed = 5000000
  allow_resnapshot     = false
  allow_sink_reset     = false
  allow_jump_to_latest = false
  allow_topic_write    = true
  max_rows_repaired    = 10000
  max_rows_deleted     = 100

  approvals = {
    replay     = 1
    skip       = 2
    resnapshot = 2
  }

  # The runbook: never during business hours without approval.
  change_window {
    days               = ["mon", "tue", "wed", "thu", "fri"]
    hours              = "09:00-17:00"
    time_zone          = "Europe/Berlin"
    effect             = "deny"
    override_approvals = 1
  }
}
