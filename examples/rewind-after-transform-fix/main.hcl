# Rewind the customers sink after a broken transformation was fixed.
#
# The mask-email SMT deployed at 09:12 (sink offset 20) dropped every 5th
# record while the sink committed their offsets; v1.4.2 fixes it. The records
# are still in the topic: set the sink back to 20 and let it replay them.

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

offsets "replay_after_smt_fix" {
  connector = connector.customers_sink
  reason    = "INC-4711: the mask-email SMT dropped every 5th record from offset 20 on; fixed in v1.4.2, replay from 20"

  sink_partition {
    topic      = "shop.public.customers"
    partitions = [0]
    to_offset  = 20
  }
}
