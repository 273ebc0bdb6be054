# The customers table of the runbook: the sink drifted (a sink task dropped
# records, and someone edited rows by hand). Compare at the sink's precision
# (milliseconds; the source keeps microseconds), repair by upsert, delete the
# rows the source does not have, and refuse a repair larger than expected.

offsetctl {
  state "local" { path = "offsetctl.state.json" }
}

database "source" { url = env("SOURCE_DATABASE_URL") }
database "sink"   { url = env("SINK_DATABASE_URL") }

reconcile "customers" {
  source              = database.source
  sink                = database.sink
  table               = "public.customers"
  sink_table          = "public.customers"
  key                 = ["id"]
  timestamp_precision = "ms"
  repair              = "upsert"
  delete_extra        = true
  max_changes         = 1000
  reason              = "INC-4711: customers sink drifted (dropped records, manual edits)"
}
