connect "prod" {
  url = "http://connect:8083"
}

connector "inventory" {
  connect = connect.prod
  name    = "inventory-postgres-source"
}

offsets "rewind" {
  connector = connector.inventory
  reason    = "test"
  source_partition {
    partition = { server = "dbserver1" }
    offset    = { lsn = 1, nested = { a = 1 } } # ERROR: Invalid value
  }
}
