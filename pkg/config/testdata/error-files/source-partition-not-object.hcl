connect "prod" {
  url = "http://connect:8083"
}

connector "orders_sink" {
  connect = connect.prod
  name    = "orders-jdbc-sink"
}

offsets "rewind" {
  connector = connector.orders_sink
  reason    = "test"
  source_partition {
    partition = "dbserver1" # ERROR: Incorrect attribute value type
    offset    = { lsn = 1 }
  }
}