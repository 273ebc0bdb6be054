connect "prod" {
  url = "http://connect:8083"
}

connector "orders" {
  connect = connect.prod
  name    = "orders-jdbc-sink"
}

connector "orders_again" {
  connect = connect.prod
  name    = "orders-jdbc-sink" # ERROR: Duplicate connector
}
