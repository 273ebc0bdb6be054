database "source" { url = env("SOURCE_DATABASE_URL") }
database "sink" { url = env("SINK_DATABASE_URL") }

reconcile "bad_repair" {
  source = database.source
  sink   = database.sink
  table  = "public.customers"
  repair = "upsrt" # ERROR: Invalid repair mode
  reason = "test"
}

reconcile "no_signal_table" {
  source = database.source
  sink   = database.sink
  table  = "public.customers"
  repair = "snapshot_signal" # ERROR: Missing signal table
  reason = "test"
}

reconcile "bad_by" {
  source = database.source
  sink   = database.sink
  table  = "public.customers"
  by     = "fortnight:updated_at" # ERROR: Invalid partition spec
}

reconcile "bad_precision" {
  source              = database.source
  sink                = database.sink
  table               = "public.customers"
  timestamp_precision = "ns" # ERROR: Invalid timestamp precision
}

reconcile "both_lists" {
  source         = database.source
  sink           = database.sink
  table          = "public.customers"
  columns        = ["id", "email"]
  ignore_columns = ["__op"] # ERROR: Conflicting column lists
}

reconcile "wrong_database" {
  source = database.src # ERROR: Reference to undeclared database block
  sink   = database.sink
  table  = "public.customers"
}
