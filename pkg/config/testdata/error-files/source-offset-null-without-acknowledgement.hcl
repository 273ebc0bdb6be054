connect "prod" {
  url = "http://connect:8083"
}

connector "orders_sink" {
  connect = connect.prod
  name    = "orders-jdbc-sink"
}

offsets "forget" {
  connector = connector.orders_sink
  reason    = "test"
  source_partition {
    partition = { server = "dbserver1" }
    offset    = null # ERROR: Missing re-snapshot acknowledgement
  }
}