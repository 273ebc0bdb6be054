# Align the customers sink with its table restored from a backup.
#
# The sink's customers table was restored from the backup taken at
# var.backup_time, but the sink's offsets still say every change was
# applied. Move them back to the first record at or after the backup's time,
# so that everything written since is replayed: no gap.

offsetctl {
  state "local" {
    path = "offsetctl.state.json"
  }
  require_reason = true
}

variable "connect_url" {
  type        = string
  description = "The Kafka Connect REST URL (offsetctl sandbox up prints it as OFFSETCTL_CONNECT_URL)."
}

variable "bootstrap_servers" {
  type        = string
  description = "The Kafka bootstrap servers, comma-separated (OFFSETCTL_BOOTSTRAP_SERVERS)."
}

connect "shop" {
  url = var.connect_url
}

kafka "shop" {
  brokers = split(",", var.bootstrap_servers)
}

variable "backup_time" {
  type        = string
  description = "When the sink backup was taken, RFC 3339 (2026-11-26T10:30:00Z, or with the local offset)."
}

connector "customers_sink" {
  connect = connect.shop
  kafka   = kafka.shop
  name    = "customers-sink"
}

offsets "align_with_restored_sink" {
  connector = connector.customers_sink
  reason    = "INC-4802: sink customers table restored from the ${var.backup_time} backup; replay everything after it"

  sink_partition {
    topic        = "shop.public.customers"
    to_timestamp = timestamp(var.backup_time)
  }
}
