offsets "replay" {
  connector = connector.orders_sink
  reason    = "INC-1"

  sink_partition {
    topic        = "orders"
    partitions   = [0, 1, 2]
    to_timestamp = "2026-11-20T10:00:00Z"
  }
}
