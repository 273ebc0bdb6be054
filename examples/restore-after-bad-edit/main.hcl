# The customers sink, for the quarterly rollback drill.
#
# The drill (README.md): back up the offsets, make a bad edit on purpose
# (drill/bad-edit.hcl), restore the backup with offsetctl offsets restore,
# and time it. The sink stays STOPPED until the offsets are right again, so
# the bad edit never reaches the data.

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

connector "customers_sink" {
  connect = connect.shop
  kafka   = kafka.shop
  name    = "customers-sink"
}
