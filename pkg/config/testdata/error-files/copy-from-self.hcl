connect "prod" {
  url = "http://connect:8083"
}

connector "orders_sink" {
  connect = connect.prod
  name    = "orders-jdbc-sink"
}

offsets "copy" {
  connector = connector.orders_sink
  reason    = "test"
  copy_from = connector.orders_sink # ERROR: Invalid copy source
}