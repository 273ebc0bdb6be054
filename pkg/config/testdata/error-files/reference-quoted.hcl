connect "prod" {
  url = "http://connect:8083"
}

connector "orders_sink" {
  connect = connect.prod
  name    = "orders-jdbc-sink"
}

offsets "replay" {
  connector = "orders_sink" # ERROR: Invalid reference
  reason    = "test"
  sink_partition {
    topic       = "orders"
    to_earliest = true
  }
}