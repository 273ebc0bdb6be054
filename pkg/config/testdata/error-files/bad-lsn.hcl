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
    partition = { server = "dbserver1" }
    offset    = { lsn = lsn("0/2360G30") } # ERROR: Invalid function argument
  }
}