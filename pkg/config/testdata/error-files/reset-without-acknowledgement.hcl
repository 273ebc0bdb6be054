connect "prod" {
  url = "http://connect:8083"
}

connector "orders_sink" {
  connect = connect.prod
  name    = "orders-jdbc-sink"
}

offsets "reset" {
  connector = connector.orders_sink
  reason    = "test"
  reset     = true # ERROR: Missing re-snapshot acknowledgement
}