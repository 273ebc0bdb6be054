# The drill's deliberate bad edit: jump the sink to the end of its topic, as
# an on-call in a hurry might to "get it moving". On a sink that is behind,
# every record it has not applied yet would never reach the table.
#
# The drill copies it into the configuration (cp drill/bad-edit.hcl .) and
# deletes it afterwards.

offsets "drill_bad_edit" {
  connector          = connector.customers_sink
  reason             = "DRILL 2026-Q4: a deliberate bad edit, to be restored from the pre-surgery backup"
  allow_skip_records = 1000

  sink_partition {
    topic     = "shop.public.customers"
    to_latest = true
  }
}
