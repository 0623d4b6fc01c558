"""Where the service may open outbound connections (webhooks): globally reachable addresses only.

A webhook URL is chosen by a caller, so connecting to it is a request the server makes on their
behalf; without a guard it reaches loopback services, the cloud metadata address, or the private
network behind the server (server-side request forgery). Every address a host resolves to must be
global — IPv4 and IPv6, IPv4 embedded in IPv6 (mapped, 6to4, Teredo, NAT64) included — unless the
configuration allows the host by name or its address by network (CIVIC_LEDGER_WEBHOOK_ALLOW_HOSTS).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class EgressRefused(Exception):
    """A destination the policy does not allow, or a host that does not resolve."""


def _why_not_global(ip: IP) -> str | None:
    for attr, word in (("is_unspecified", "unspecified"), ("is_loopback", "loopback"),
                       ("is_link_local", "link-local"), ("is_multicast", "multicast"),
                       ("is_private", "private"), ("is_reserved", "reserved")):
        if getattr(ip, attr):
            return word
    return None if ip.is_global else "not globally reachable"


def forbidden(ip: IP) -> str | None:
    """Why an address is not one the service connects to by default (None: it is global)."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded: list[ipaddress.IPv4Address] = []
        if ip.ipv4_mapped is not None:
            embedded.append(ip.ipv4_mapped)
        if ip.sixtofour is not None:
            embedded.append(ip.sixtofour)
        if ip.teredo is not None:
            embedded.extend(ip.teredo)
        if ip in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        for v4 in embedded:
            why = _why_not_global(v4)
            if why is not None:
                return f"{why} (IPv4 {v4} inside IPv6)"
    return _why_not_global(ip)


def _address(text: str) -> IP:
    return ipaddress.ip_address(text.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) names no other address


def _resolve(host: str, name: str, port: int) -> list[IP]:
    """An address literal as it is; a name (or a decimal, hex or octal IPv4 form) as the resolver reads it."""
    try:
        return [_address(name)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as e:
        raise EgressRefused(f"the host {host} does not resolve ({e})") from None
    found = list(dict.fromkeys(_address(str(info[4][0])) for info in infos))
    if not found:
        raise EgressRefused(f"the host {host} does not resolve")
    return found


@dataclass(frozen=True)
class EgressPolicy:
    """Global destinations, plus the hosts (by name) and networks the configuration allows."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, spec: str) -> EgressPolicy:
        """`CIVIC_LEDGER_WEBHOOK_ALLOW_HOSTS`: comma-separated host names, addresses and CIDR networks."""
        hosts: set[str] = set()
        networks: list[Network] = []
        for raw in spec.split(","):
            item = raw.strip().lower().rstrip(".")
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
            except ValueError:
                hosts.add(item)
        return cls(frozenset(hosts), tuple(networks))

    def allows(self, ip: IP) -> bool:
        return any(ip.version == n.version and ip in n for n in self.networks)

    def check(self, host: str, port: int) -> list[str]:
        """The addresses `host` resolves to, all of them allowed; else EgressRefused saying why."""
        name = host.strip("[]").lower().rstrip(".")
        found = _resolve(host, name, port)
        if name in self.hosts:
            return [str(ip) for ip in found]
        for ip in found:
            why = forbidden(ip)
            if why is not None and not self.allows(ip):
                what = f"{ip} is {why}" if str(ip) == name else f"{host} resolves to {ip}, which is {why}"
                raise EgressRefused(f"{what}; webhooks go only to globally reachable addresses "
                                    "(CIVIC_LEDGER_WEBHOOK_ALLOW_HOSTS allows others)")
        return [str(ip) for ip in found]
