"""The api app's writes by capability: tokens, webhook endpoints, webhook events
and deliveries, and starting a negotiation with its outside seats' credentials."""
