connect "prod" {
  url = "http://connect:8083"
}

connector "orders_sink" {
  connect = connect.prod
  name    = "orders-jdbc-sink"
}

offsets "mixed" {
  connector = connector.orders_sink
  reason    = "test"
  sink_partition {
    topic       = "orders"
    to_earliest = true
  }
  restore = "backups/orders.json" # ERROR: Conflicting operations
}