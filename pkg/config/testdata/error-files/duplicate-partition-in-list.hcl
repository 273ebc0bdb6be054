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
    topic      = "orders"
    partitions = [0, 1, 0] # ERROR: Duplicate partition
    to_offset  = 100
  }
}