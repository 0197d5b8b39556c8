"""The api app's reads by capability: negotiations (with the privacy rule of the
pages), approval requests, playbooks and the person's tokens."""
