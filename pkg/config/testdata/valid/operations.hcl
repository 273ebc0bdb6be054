# One of every kind of offsets operation and sink target.

offsetctl {
  require_reason = true
}

variable "incident" {
  type    = string
  default = "INC-7"
}

locals {
  topic = "dbserver1.public.orders"
}

connect "old" { url = "http://connect-old:8083" }
connect "new" {
  url = "http://connect-new:8083"
  tls {
    ca_file = "ca.pem"
  }
}

kafka "main" {
  brokers       = ["kafka-1:9092"]
  offsets_topic = "connect-offsets-main"
}

database "source" { url = env("SOURCE_DATABASE_URL") }
database "sink" { url = env("SINK_DATABASE_URL") }

connector "orders_sink" {
  connect = connect.new
  kafka   = kafka.main
  name    = "orders-jdbc-sink"
  group   = "orders-sink-group"
}

connector "inventory_old" {
  connect = connect.old
  name    = "inventory-postgres-source"
}

connector "inventory" {
  connect         = connect.new
  kafka           = kafka.main
  name            = "inventory-postgres-source"
  format          = "debezium-postgres"
  source_database = database.source
}

offsets "sink_targets" {
  connector          = connector.orders_sink
  reason             = "${var.incident}: every sink target"
  allow_skip_records = 5000

  sink_partition {
    topic      = local.topic
    partitions = [0]
    to_offset  = 100
  }
  sink_partition {
    topic        = local.topic
    partitions   = [1]
    to_timestamp = timestamp("2026-11-20T12:00:00+02:00")
  }
  sink_partition {
    topic      = local.topic
    partitions = [2]
    shift_by   = -250
  }
  sink_partition {
    topic      = local.topic
    partitions = [3]
    shift_by   = 10
  }
  sink_partition {
    topic       = local.topic
    partitions  = [4, 5]
    to_earliest = true
  }
  sink_partition {
    topic      = local.topic
    partitions = [6]
    skip       = 99812
  }
  sink_partition {
    topic     = "other"
    to_latest = true
  }
}

offsets "source_offsets" {
  connector              = connector.inventory
  reason                 = "${var.incident}: rewind one server, forget another"
  acknowledge_resnapshot = true

  source_partition {
    partition = { server = "dbserver1" }
    offset    = { lsn = lsn("16/B374D848"), lsn_commit = lsn("16/B374D848"), txId = 649, ts_usec = epoch_micros("2026-11-20T10:00:00Z") }
    merge     = true
  }
  source_partition {
    partition = { server = "dbserver2" }
    offset    = null
  }
}

offsets "restore" {
  connector = connector.inventory
  reason    = "${var.incident}: restore"
  restore   = "backups/inventory.json"
}

offsets "move_cluster" {
  connector = connector.inventory
  reason    = "${var.incident}: moved to the new cluster"
  copy_from = connector.inventory_old
}

offsets "start_over" {
  connector              = connector.orders_sink
  reason                 = "${var.incident}: start over"
  reset                  = true
  acknowledge_resnapshot = true
}

reconcile "orders" {
  source       = database.source
  sink         = database.sink
  table        = "public.orders"
  key          = ["id"]
  columns      = ["id", "status", "updated_at"]
  repair       = "snapshot_signal"
  signal_table = "public.debezium_signal"
  delete_extra = true
  by           = "day:updated_at"
  reason       = "${var.incident}: sink missed rows"
}

reconcile "report_only" {
  source = database.source
  sink   = database.sink
  table  = "public.customers"
}
