connect "prod" {
  url = "http://connect:8083"
}

connector "orders_sink" {
  connect = connect.prod
  name    = "orders-jdbc-sink"
}

offsets "jump" {
  connector = connector.orders_sink
  reason    = "test"
  sink_partition {
    topic    = "orders"
    shift_by = 500 # ERROR: Missing skip acknowledgement
  }
}