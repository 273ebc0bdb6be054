connect "prod" {
  url = "http://connect:8083"
}

connector "orders_sink" {
  connect = connect.prod
  name    = "orders-jdbc-sink"
}

offsets "nothing" { # ERROR: Missing operation
  connector = connector.orders_sink
  reason    = "forgot what to do"
}