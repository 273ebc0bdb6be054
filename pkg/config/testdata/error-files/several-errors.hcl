# An unknown block does not hide the other mistakes.

connect "prod" {
  url = "ftp://connect:8083" # ERROR: Invalid URL
}

databse "source" { # ERROR: Unsupported block type
  url = env("SOURCE_DATABASE_URL")
}

connector "orders_sink" {
  connect = connect.prod
  name    = "orders-jdbc-sink"
  colour  = "blue" # ERROR: Unsupported argument
}

offsets "replay" {
  connector = connector.orders # ERROR: Reference to undeclared connector block
  reason    = "test"
  sink_partition {
    topic     = "orders"
    to_offset = 1.5 # ERROR: Invalid value
  }
}
