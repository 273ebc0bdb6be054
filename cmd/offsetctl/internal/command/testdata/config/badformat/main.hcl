connect "prod" {
  url = "http://connect:8083"
}

connector "orders_sink" {
  connect = connect.prod
  name    = "orders-jdbc-sink"
  format  = "debezium-postgress"
}

connector "inventory" {
  connect = connect.prod
  name    = "inventory-postgres-source"
  format  = "debezium-postgres"
}

offsets "rewind" {
  connector = connector.inventory
  reason    = "test"
  source_partition {
    partition = { server = "dbserver1" }
    offset    = { lsn = "0/2360E30", txId = 649 }
  }
}
