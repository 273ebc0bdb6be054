connect "prod" {
  url = "http://connect:8083"
}

connector "orders_sink" {
  connect = connect.prod
  name    = "orders-jdbc-sink"
}

offsets "replay" {
  connector = connector.orders_sink
  reason    = "test"
  sink_partition {
    topic        = "orders"
    to_timestamp = "2026-11-20 10:00" # ERROR: Invalid timestamp
  }
}