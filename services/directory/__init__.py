"""Directory service: members, offers, territories, matching; the network's identity provider."""
