# Move the customers source to the new Connect cluster, as customers-source-v2.
#
# The new connector is created STOPPED (initial_state, Kafka Connect 3.7+)
# with the old one's configuration. Before it first runs it gets the old
# connector's offsets, so it resumes where the old one stopped: no snapshot
# of the source again (snapshot.mode=initial takes one when a connector has
# no offsets), no gap, no duplicates.

offsetctl {
  state "local" {
    path = "offsetctl.state.json"
  }
  require_reason = true
}

variable "connect_url" {
  type        = string
  description = "The old Kafka Connect cluster's REST URL (offsetctl sandbox up prints it as OFFSETCTL_CONNECT_URL)."
}

variable "new_connect_url" {
  type        = string
  description = "The new Kafka Connect cluster's REST URL (on the sandbox, the same worker as connect_url)."
}

variable "bootstrap_servers" {
  type        = string
  description = "The Kafka bootstrap servers both Connect clusters use, comma-separated (OFFSETCTL_BOOTSTRAP_SERVERS)."
}

connect "old" {
  url = var.connect_url
}

connect "new" {
  url = var.new_connect_url
}

kafka "shop" {
  brokers = split(",", var.bootstrap_servers)
}

connector "customers_source_old" {
  connect = connect.old
  kafka   = kafka.shop
  name    = "customers-source"
}

connector "customers_source" {
  connect = connect.new
  kafka   = kafka.shop
  name    = "customers-source-v2"
}

offsets "move_customers_source" {
  connector = connector.customers_source
  copy_from = connector.customers_source_old
  reason    = "CHG-1207: customers-source moves to the new Connect cluster as customers-source-v2; resume where the old one stopped"
}
