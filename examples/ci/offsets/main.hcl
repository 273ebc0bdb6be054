# The production offsets of the shop pipeline, changed only through pull requests.
# CI plans every push (.github/workflows/offsetctl.yml or .gitlab-ci.yml) and applies
# the reviewed plan when the pull request is merged.

offsetctl {
  state "postgres" {
    url = env("STATE_DATABASE_URL")
  }
  require_reason     = true
  required_approvals = 1
  # Reviewers sign the plan hash with offsetctl approve; apply checks the
  # signatures against this file (owned by the platform team, see CODEOWNERS).
  allowed_signers = "../allowed_signers"
}

variable "incident" {
  type        = string
  default     = "INC-4711"
  description = "The incident this change belongs to, for the reason."
}

connect "prod" {
  url = env("OFFSETCTL_CONNECT_URL")
}

kafka "prod" {
  brokers = split(",", env("OFFSETCTL_BOOTSTRAP_SERVERS"))
}

connector "orders_sink" {
  connect = connect.prod
  kafka   = kafka.prod
  name    = "orders-jdbc-sink"
}

offsets "replay_after_smt_fix" {
  connector = connector.orders_sink
  reason    = "${var.incident}: the SMT dropped records between 10:00 and 10:40"

  sink_partition {
    topic        = "dbserver1.public.orders"
    partitions   = [0, 1, 2]
    to_timestamp = "2026-11-20T10:00:00Z"
  }
}
