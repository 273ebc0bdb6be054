connect "prod" {
  url = "http://connect:8083"
}

connector "orders_sink" {
  connect = connect.prod
  name    = "orders-jdbc-sink"
}

offsets "restore" {
  connector = connector.orders_sink
  reason    = "test"
  restore   = file("backups/orders.json") # ERROR: Invalid restore value
}