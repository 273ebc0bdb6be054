# The full example of the language draft (shared/design.md), with two changes:
# restore takes the path of the backup file, not file(...) of it, and the
# Debezium offset is complete (ts_usec), as the codec requires of an offset
# that replaces the current one.

offsetctl {
  state "local" { path = "offsetctl.state.json" } # or: state "postgres" { url = env("STATE_DATABASE_URL") }
  require_reason     = true
  required_approvals = 1
}

variable "incident" { type = string }

connect "prod" {
  url = "http://connect.internal:8083"
  # basic_auth { username = ..., password = env("CONNECT_PASSWORD") }, tls { ... }, headers = { ... }
}

kafka "prod" {
  brokers       = ["kafka-1:9092"]
  offsets_topic = "connect-offsets" # for clusters older than 3.6, and for backups
}

database "source" { url = env("SOURCE_DATABASE_URL") }
database "sink" { url = env("SINK_DATABASE_URL") }

connector "orders_sink" {
  connect = connect.prod
  kafka   = kafka.prod
  name    = "orders-jdbc-sink" # the name in Kafka Connect
}

connector "inventory" {
  connect         = connect.prod
  kafka           = kafka.prod
  name            = "inventory-postgres-source"
  format          = "debezium-postgres" # codec; auto-detected from connector.class where possible
  source_database = database.source     # lets plan check replication slot retention
}

# One-time operations, named; once applied they show as applied and plan no change.
offsets "replay_after_smt_fix" {
  connector = connector.orders_sink
  reason    = "${var.incident}: SMT dropped records between 10:00 and 10:40"

  sink_partition {
    topic        = "dbserver1.public.orders"
    partitions   = [0, 1, 2]
    to_timestamp = "2026-11-20T10:00:00Z" # or to_offset, shift_by, to_earliest, to_latest
  }
}

offsets "skip_poison_pill" {
  connector = connector.orders_sink
  reason    = "${var.incident}: record 99812 of partition 3 fails the sink"
  sink_partition {
    topic      = "dbserver1.public.orders"
    partitions = [3]
    skip       = 99812 # only if the committed offset is 99812: set it to 99813
  }
}

offsets "rewind_inventory" {
  connector = connector.inventory
  reason    = "${var.incident}: replay inventory changes since the bad deploy"
  source_partition {
    partition = { server = "dbserver1" }
    offset    = { lsn = lsn("0/2360E30"), txId = 649, ts_usec = epoch_micros("2026-11-20T09:59:58Z") } # replaces the current offset
  }
}

offsets "restore_inventory" {
  connector = connector.inventory
  reason    = "${var.incident}: back to the offsets of 14:30"
  restore   = "backups/inventory-20261120T1430.json"
}

reconcile "customers" {
  source              = database.source
  sink                = database.sink
  table               = "public.customers"
  sink_table          = "sink_schema.customers"
  key                 = ["id"]
  ignore_columns      = ["__op", "__source_ts_ms"]
  timestamp_precision = "ms" # compare at the sink's precision
  where               = "updated_at >= '2026-11-01'"
  repair              = "upsert" # or "snapshot_signal" (Debezium incremental snapshot), or "none"
  max_changes         = 10000
  reason              = "${var.incident}: sink missed updates during the outage"
}
