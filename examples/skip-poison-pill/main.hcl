# Skip the poison pill that stops the customers sink.
#
# shop.public.customers[0] offset 20 is a change event cut short (a producer
# died mid-write). The sink fails on it, and fails again after every
# restart: nothing behind it reaches the table. Skip exactly that record.

offsetctl {
  state "local" {
    path = "offsetctl.state.json"
  }
  require_reason = true
}

variable "connect_url" {
  type        = string
  description = "The Kafka Connect REST URL (offsetctl sandbox up prints it as OFFSETCTL_CONNECT_URL)."
}

variable "bootstrap_servers" {
  type        = string
  description = "The Kafka bootstrap servers, comma-separated (OFFSETCTL_BOOTSTRAP_SERVERS)."
}

connect "shop" {
  url = var.connect_url
}

kafka "shop" {
  brokers = split(",", var.bootstrap_servers)
}

connector "customers_sink" {
  connect = connect.shop
  kafka   = kafka.shop
  name    = "customers-sink"
}

offsets "skip_poison_pill" {
  connector = connector.customers_sink
  reason    = "INC-4790: shop.public.customers[0]@20 is a truncated change event; the sink fails on it"

  sink_partition {
    topic      = "shop.public.customers"
    partitions = [0]
    skip       = 20 # only if the sink is stuck at 20: then 21
  }
}
