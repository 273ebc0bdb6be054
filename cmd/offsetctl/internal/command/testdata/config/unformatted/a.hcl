connect "prod" {
url="http://connect:8083"
}

connector "orders_sink" {
  connect = connect.prod
  name = "orders-jdbc-sink"
}
