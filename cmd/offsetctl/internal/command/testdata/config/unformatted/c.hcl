offsets "skip" {
  connector = connector.orders_sink
  reason    = "INC-2"
  sink_partition {
    topic = "orders"
    partitions = [3]
    skip = 99812
  }
}
