connect "prod" {
  url = "http://connect:8083"
}

connector "orders_sink" {
  connect = connect.prod
  name    = "orders-jdbc-sink"
}

offsetctl {
  require_reason = true
}

offsets "replay" { # ERROR: Missing reason
  connector = connector.orders_sink
  reason    = "  "
  sink_partition {
    topic       = "orders"
    to_earliest = true
  }
}