"""Directory HTTP API: parse -> handler -> response, one router per aggregate."""

from services.directory.api import identity, members, networks, offers

ROUTERS = [identity.router, networks.router, members.router, offers.router]
