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
    topic       = "orders"
    to_earliest = true
  }
  sink_partition { # ERROR: Duplicate partition
    topic      = "orders"
    partitions = [4]
    to_offset  = 10
  }
}