"""Directory HTTP API: parse -> handler -> response, one router per aggregate."""

from services.directory.api import identity, interchange, members, networks, offers

ROUTERS = [
    identity.router,
    networks.router,
    members.router,
    offers.router,
    interchange.router,
]
