connect "prod" {
  url = "http://connect:8083"
}

connector "orders_sink" {
  connect = connect.prd # ERROR: Reference to undeclared connect block
  name    = "orders-jdbc-sink"
}
