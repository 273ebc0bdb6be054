connect "prod" {
  url = "http://connect:8083"
}

connector "orders_sink" {
  connect = connect.prod
  name    = "orders-jdbc-sink"
}

offsets "replay" {
  connector = connector.orders_sink
  reason    = "${var.incidnet}: replay" # ERROR: Reference to undeclared input variable
  sink_partition {
    topic       = "orders"
    to_earliest = true
  }
}