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
    topic     = "orders"
    to_offset = 100
    shift_by  = -10 # ERROR: Conflicting targets
  }
}